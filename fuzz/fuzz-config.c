/* fuzz-config.c - config_parse_text() over arbitrary bytes (an exact-size copy, so reading past
 * len is caught). Checks: it returns 0 or -EINVAL; every error line is "fuzz.conf:LINE: ..." with a
 * line that exists (or "fuzz.conf: N more errors not shown"); 0 exactly when no error was
 * reported; an accepted configuration has every value in its documented range; parsing is
 * deterministic. */
#include <errno.h>

#include "config.h"
#include "fuzz.h"

#define NAME "fuzz.conf"

struct errs {
        size_t count;
        unsigned max_line;
        unsigned long hash;
};

static void on_error(void *userdata, const char *msg)
{
        struct errs *e = userdata;
        const char *rest = msg + strlen(NAME);

        fuzz_check(strncmp(msg, NAME ":", strlen(NAME) + 1) == 0, "error without the file name: %s", msg);
        if (rest[1] != ' ') {
                char *end;
                unsigned long line = strtoul(rest + 1, &end, 10);

                fuzz_check(end != rest + 1 && *end == ':' && end[1] == ' ' && end[2] != '\0',
                           "malformed error line: %s", msg);
                fuzz_check(line >= 1 && line <= e->max_line, "error on line %lu of %u: %s", line, e->max_line, msg);
        } else {
                fuzz_check(strstr(msg, "more errors not shown") != NULL, "error without a line: %s", msg);
        }
        e->count++;
        for (const char *p = msg; *p; p++)
                e->hash = e->hash * 31 + (unsigned char) *p;
}

static bool str_ok(const char *s, size_t size)
{
        return strnlen(s, size) < size;
}

static void check_config(const struct config *c)
{
        fuzz_check(str_ok(c->device, sizeof(c->device)) && c->device[0] != '\0', "device");
        fuzz_check(c->baudrate == 4800 || c->baudrate == 9600 || c->baudrate == 115200, "baudrate %u", c->baudrate);
        fuzz_check(c->command_timeout_ms >= 100 && c->command_timeout_ms <= 60000, "command_timeout_ms");
        fuzz_check(c->boot_timeout_s >= 1 && c->boot_timeout_s <= 120, "boot_timeout_s");
        fuzz_check(c->probe_interval_s == 0 || (c->probe_interval_s >= 5 && c->probe_interval_s <= 3600),
                   "probe_interval_s %u", c->probe_interval_s);
        fuzz_check(str_ok(c->server, sizeof(c->server)) && c->server[0] != '\0', "server");
        fuzz_check(c->port >= 1 && c->port <= 65535, "port");
        fuzz_check(str_ok(c->endpoint, sizeof(c->endpoint)) && !strchr(c->endpoint, '"'), "endpoint");
        for (const char *p = c->endpoint; *p; p++)
                fuzz_check(*p >= 0x20 && *p <= 0x7e, "endpoint byte 0x%02x", (unsigned char) *p);
        fuzz_check(c->n_objects >= 1 && c->n_objects <= CONFIG_OBJECTS_MAX, "n_objects %zu", c->n_objects);
        for (size_t i = 0; i < c->n_objects; i++) {
                const struct config_object *o = &c->objects[i];
                char cmd[512];

                fuzz_check(o->obj <= 65535 && o->inst <= 65535 && o->count <= 16 &&
                           str_ok(o->ids, sizeof(o->ids)) && o->ids[0] != '\0', "object %zu", i);
                fuzz_check(config_object_command(o, cmd, sizeof(cmd)) == 0 && !strpbrk(cmd, "\r\n"),
                           "object %zu command", i);
        }
        fuzz_check(c->connect_timeout_s >= 1 && c->connect_timeout_s <= 600, "connect_timeout_s");
        fuzz_check(c->send_timeout_s >= 1 && c->send_timeout_s <= 600, "send_timeout_s");
        fuzz_check(c->send_queue >= 1 && c->send_queue <= 256, "send_queue");
        fuzz_check(c->timeout_s >= 1 && c->timeout_s <= 86400, "timeout_s");
        fuzz_check(c->download_max_s >= c->timeout_s && c->download_max_s <= 864000, "download_max_s %u (timeout %u)",
                   c->download_max_s, c->timeout_s);
        fuzz_check(str_ok(c->gpio_chip, sizeof(c->gpio_chip)) && str_ok(c->reset.name, sizeof(c->reset.name)) &&
                   str_ok(c->pwrkey.name, sizeof(c->pwrkey.name)), "gpio strings");
        fuzz_check(c->gpio_chip[0] != '\0' || (c->reset.name[0] == '\0' && c->pwrkey.name[0] == '\0'),
                   "gpio line without a chip");
}

/* Field by field: bytes after a string's NUL and padding carry no meaning. */
static bool config_equal(const struct config *a, const struct config *b)
{
        if (strcmp(a->device, b->device) || a->baudrate != b->baudrate ||
            a->command_timeout_ms != b->command_timeout_ms || a->boot_timeout_s != b->boot_timeout_s ||
            a->probe_interval_s != b->probe_interval_s || a->fix_baudrate != b->fix_baudrate ||
            strcmp(a->server, b->server) || a->port != b->port || strcmp(a->endpoint, b->endpoint) ||
            a->n_objects != b->n_objects || a->connect_timeout_s != b->connect_timeout_s ||
            a->send_timeout_s != b->send_timeout_s || a->send_queue != b->send_queue ||
            a->timeout_s != b->timeout_s || a->download_max_s != b->download_max_s ||
            strcmp(a->gpio_chip, b->gpio_chip))
                return false;
        for (size_t i = 0; i < a->n_objects; i++)
                if (a->objects[i].obj != b->objects[i].obj || a->objects[i].inst != b->objects[i].inst ||
                    a->objects[i].count != b->objects[i].count || strcmp(a->objects[i].ids, b->objects[i].ids))
                        return false;
        return strcmp(a->reset.name, b->reset.name) == 0 && a->reset.active_low == b->reset.active_low &&
               a->reset.pulse_ms == b->reset.pulse_ms && strcmp(a->pwrkey.name, b->pwrkey.name) == 0 &&
               a->pwrkey.active_low == b->pwrkey.active_low && a->pwrkey.pulse_ms == b->pwrkey.pulse_ms;
}

FUZZ_TARGET(config)
{
        struct config *c1 = malloc(sizeof(*c1)), *c2 = malloc(sizeof(*c2));
        struct errs e1 = { 0 }, e2 = { 0 };
        char *text = malloc(size ? size : 1);
        int r1, r2;

        if (!c1 || !c2 || !text)
                abort();
        memcpy(text, data, size);
        e1.max_line = 1;
        for (size_t i = 0; i < size; i++)
                if (data[i] == '\n')
                        e1.max_line++;
        e2.max_line = e1.max_line;

        r1 = config_parse_text(c1, NAME, text, size, on_error, &e1);
        fuzz_check(r1 == 0 || r1 == -EINVAL, "returned %d", r1);
        fuzz_check((r1 == 0) == (e1.count == 0), "returned %d after %zu errors", r1, e1.count);
        if (r1 == 0)
                check_config(c1);

        r2 = config_parse_text(c2, NAME, text, size, on_error, &e2);
        fuzz_check(r2 == r1 && e2.count == e1.count && e2.hash == e1.hash, "not deterministic");
        if (r1 == 0)
                fuzz_check(config_equal(c1, c2), "not deterministic (values)");
        /* Without an error callback it must decide the same. */
        fuzz_check(config_parse_text(c2, NAME, text, size, NULL, NULL) == r1, "callback changes the result");

        free(text);
        free(c1);
        free(c2);
        return 0;
}
