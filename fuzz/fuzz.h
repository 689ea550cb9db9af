/* fuzz.h - shared by the libFuzzer targets in fuzz/ and by tests/test-fuzz-corpus.c.
 *
 * Each target defines its entry point with FUZZ_TARGET(name). Built for libFuzzer
 * (fuzz/run-fuzzers.sh) that is LLVMFuzzerTestOneInput; built with -DBC26_FUZZ_DRIVER (the Check
 * suite that replays the committed corpora) it is bc26_fuzz_<name>, so that every target can be
 * linked into one program. Invariant violations call abort() (fuzz_check), in both builds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BC26_FUZZ_DRIVER
#define FUZZ_TARGET(name) int bc26_fuzz_##name(const uint8_t *data, size_t size)
int bc26_fuzz_line_classify(const uint8_t *data, size_t size);
int bc26_fuzz_urc(const uint8_t *data, size_t size);
int bc26_fuzz_config(const uint8_t *data, size_t size);
int bc26_fuzz_store(const uint8_t *data, size_t size);
int bc26_fuzz_fota(const uint8_t *data, size_t size);
int bc26_fuzz_at_channel(const uint8_t *data, size_t size);
#else
#define FUZZ_TARGET(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
        int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#endif

/* An invariant: print what broke (libFuzzer keeps stderr with the crash) and abort. */
#define fuzz_check(cond, ...) do { \
                if (!(cond)) { \
                        fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__); \
                        fputc('\n', stderr); \
                        abort(); \
                } \
        } while (0)

/* The fuzzer's bytes read as a stream of choices; past the end every choice is 0. */
struct fuzz_input {
        const uint8_t *p;
        size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
        if (in->n == 0)
                return 0;
        in->n--;
        return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_input *in)
{
        uint16_t v = fuzz_u8(in);

        return (uint16_t) (v << 8 | fuzz_u8(in));
}

static inline uint32_t fuzz_u32(struct fuzz_input *in)
{
        uint32_t v = fuzz_u16(in);

        return v << 16 | fuzz_u16(in);
}

/* A NUL-terminated copy of n bytes (the fuzzer's buffer is not terminated). */
static inline char *fuzz_strndup(const uint8_t *data, size_t n)
{
        char *s = malloc(n + 1);

        if (!s)
                abort();
        memcpy(s, data, n);
        s[n] = '\0';
        return s;
}
