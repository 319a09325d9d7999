/* json.c - typed reads of a JSON header's fields (json.h). */
#include <math.h>

#include "json.h"

#define JSON_INT_MAX 9007199254740992.0  /* 2^53: the last exact double */

const char *rv_json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

uint64_t rv_json_u64(const cJSON *o, const char *key, uint64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v))
		return def;
	double d = v->valuedouble;
	if (!(d >= 0 && d <= JSON_INT_MAX) || d != floor(d))
		return def;
	return (uint64_t)d;
}
