/* crilog — see crilog.h. */
#include "actors/agent/crilog.h"

#include <stdlib.h>
#include <string.h>

char *
crilog_text (const char *in, size_t n, int timestamps, size_t *used, size_t *outlen)
{
    char *out = malloc (n + 1);
    size_t k = 0, p = 0;
    int line_start = 1;
    *used = 0;
    if (!out)
        return NULL;
    while (p < n) {
        const char *nl = memchr (in + p, '\n', n - p);
        if (!nl)
            break;
        const char *line = in + p, *end = nl;
        size_t len = (size_t) (end - line);
        const char *sp1 = memchr (line, ' ', len);
        const char *sp2 = sp1 ? memchr (sp1 + 1, ' ', (size_t) (end - sp1 - 1)) : NULL;
        /* the tag is one character, P or F, followed by a space (or the end: an empty text) */
        int fmt = sp2 && sp2 + 1 < end && (sp2[1] == 'P' || sp2[1] == 'F') && (sp2 + 2 == end || sp2[2] == ' ');
        if (!fmt) { /* not the CRI format: the line as it is */
            memcpy (out + k, line, len + 1);
            k += len + 1;
            line_start = 1;
        } else {
            const char *text = sp2 + 2 < end ? sp2 + 3 : end;
            int partial = sp2[1] == 'P';
            if (timestamps && line_start) { /* "<time> " is no longer than "<time> <stream> " */
                memcpy (out + k, line, (size_t) (sp1 - line) + 1);
                k += (size_t) (sp1 - line) + 1;
            }
            memcpy (out + k, text, (size_t) (end - text));
            k += (size_t) (end - text);
            if (!partial)
                out[k++] = '\n';
            line_start = !partial;
        }
        p = (size_t) (end - in) + 1;
        *used = p;
    }
    out[k] = 0;
    *outlen = k;
    return out;
}
