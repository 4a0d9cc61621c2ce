/* podenv — a container's command, args and env as the kubelet hands them to the runtime: with
 * Kubernetes' $(VAR_NAME) references expanded. Pure, no I/O.
 *
 * Rules (Kubernetes' expansion of command, args and env values):
 * - "$(NAME)" becomes NAME's value when NAME is defined, and stays "$(NAME)" when it is not
 *   (so a shell's "$(date +%T)" reaches the shell unchanged).
 * - "$$" becomes "$", so "$$(NAME)" is the literal "$(NAME)".
 * - "$" before anything else, and a "$(" never closed, stay as they are.
 * - env values see the variables defined before them in the list; command and args see all of
 *   the container's env.
 */
#ifndef TROUPE_PODENV_H
#define TROUPE_PODENV_H

#include <jansson.h>

/* The expansion of in, looking names up in vars (a map of strings; NULL = none). New string. */
char *podenv_expand (const char *in, const json_t *vars);

/* {command, args, env} of the container spec, expanded; keys absent in spec stay absent. env
 * items keep only name and value (valueFrom is refused by the schema). A new reference. */
json_t *podenv_container (const json_t *spec);

#endif
