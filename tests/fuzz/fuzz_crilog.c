/* libFuzzer target: a container's log file as conmon writes it (CRI format), read back by the
 * agent for `troupe logs`. The container controls the text: any bytes are decoded within
 * bounds, the output is no longer than the input, and only whole lines are consumed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "actors/agent/crilog.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    for (int ts = 0; ts < 2; ts++) {
        size_t used = 0, len = 0;
        char *out = crilog_text ((const char *) data, size, ts, &used, &len);
        if (!out || len > size || used > size || out[len] || (used && data[used - 1] != '\n'))
            abort ();
        free (out);
    }
    return 0;
}
