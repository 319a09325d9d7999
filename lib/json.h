/* json.h - typed reads of a JSON header's fields (cJSON objects).
 *
 * Every RV header, control message and signalling message is a JSON object
 * whose fields are read by name. These return the field when it exists with
 * the expected type, and a neutral value otherwise, so a peer's missing or
 * mistyped field is one test at the call site. */
#ifndef RV_JSON_H
#define RV_JSON_H

#include <stdint.h>

#include <cJSON.h>

/* rv_json_str - the string field KEY of O, or NULL (no such field, not a
 * string, or O not an object). The string belongs to O. */
const char *rv_json_str(const cJSON *o, const char *key);
/* rv_json_u64 - the field KEY of O as a whole number in [0, 2^53], or DEF
 * when it is missing, not a number, negative, fractional or too large. */
uint64_t rv_json_u64(const cJSON *o, const char *key, uint64_t def);

#endif
