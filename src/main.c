/* main.c - bc26d's command line: parse arguments, load and validate the config, hand over to the
 * manager. Exit codes: 0 clean shutdown, 64 usage (EX_USAGE), 78 bad config (EX_CONFIG),
 * 1 anything else. Never forks: systemd supervises it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "config.h"
#include "log.h"
#include "manager.h"

#define STATE_DIR_DEFAULT "/var/lib/bc26d"

static void help(void)
{
        printf("Usage: bc26d [OPTIONS]\n"
               "The one process that owns a Quectel BC26's tty: LwM2M session and DFOTA guard.\n\n"
               "  -c, --config PATH      configuration file (default %s)\n"
               "  -s, --state-dir DIR    where the DFOTA state is kept (default $STATE_DIRECTORY,\n"
               "                         else %s)\n"
               "  -l, --log-level LEVEL  debug, info, notice, warning or err (default info)\n"
               "      --check-config     validate the configuration and exit (0 valid, 78 invalid)\n"
               "  -V, --version          print the version and exit\n"
               "  -h, --help             print this help and exit\n",
               CONFIG_PATH_DEFAULT, STATE_DIR_DEFAULT);
}

static void print_config_error(void *userdata, const char *message)
{
        fprintf(stderr, "%s\n", message);
}

int main(int argc, char *argv[])
{
        enum { ARG_CHECK_CONFIG = 0x100 };
        static const struct option options[] = {
                { "config",       required_argument, NULL, 'c' },
                { "state-dir",    required_argument, NULL, 's' },
                { "log-level",    required_argument, NULL, 'l' },
                { "check-config", no_argument,       NULL, ARG_CHECK_CONFIG },
                { "version",      no_argument,       NULL, 'V' },
                { "help",         no_argument,       NULL, 'h' },
                {}
        };
        const char *config_path = CONFIG_PATH_DEFAULT;
        const char *state_dir = getenv("STATE_DIRECTORY");
        int level = LOG_INFO;
        bool check_only = false;
        struct config *cfg;
        struct manager *m = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "c:s:l:Vh", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case 's':
                        state_dir = optarg;
                        break;
                case 'l':
                        level = log_priority_from_string(optarg);
                        if (level < 0) {
                                fprintf(stderr, "bc26d: --log-level '%s' is not one of debug, info, notice, warning, err\n",
                                        optarg);
                                return EX_USAGE;
                        }
                        break;
                case ARG_CHECK_CONFIG:
                        check_only = true;
                        break;
                case 'V':
                        printf("bc26d %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'bc26d --help'.\n");
                        return EX_USAGE;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "bc26d: unexpected argument '%s'; try 'bc26d --help'\n", argv[optind]);
                return EX_USAGE;
        }
        if (!state_dir || !*state_dir)
                state_dir = STATE_DIR_DEFAULT;
        /* systemd may pass several directories separated by ':'; ours is the first. */
        {
                static char first[4096];

                snprintf(first, sizeof(first), "%s", state_dir);
                first[strcspn(first, ":")] = '\0';
                state_dir = first;
        }

        log_setup(level);

        cfg = malloc(sizeof(*cfg));
        if (!cfg) {
                log_error("Out of memory");
                return EXIT_FAILURE;
        }
        r = config_load(cfg, config_path, print_config_error, NULL);
        if (r < 0) {
                fprintf(stderr, "bc26d: configuration %s is not valid; fix the lines above (see bc26d.conf(5))\n",
                        config_path);
                free(cfg);
                return EX_CONFIG;
        }
        if (check_only) {
                printf("%s: configuration is valid\n", config_path);
                free(cfg);
                return EXIT_SUCCESS;
        }

        log_info("bc26d %s starting: device %s, state in %s", PACKAGE_VERSION, cfg->device, state_dir);
        r = manager_new(cfg, state_dir, &m);
        free(cfg);
        if (r < 0) {
                log_errno(LOG_ERR, r, "Failed to start");
                return r == -EINVAL ? EX_CONFIG : EXIT_FAILURE;
        }
        r = manager_run(m);
        manager_free(m);
        if (r < 0) {
                log_errno(LOG_ERR, r, "Stopped on a fatal error");
                return EXIT_FAILURE;
        }
        log_info("bc26d stopped");
        return EXIT_SUCCESS;
}
