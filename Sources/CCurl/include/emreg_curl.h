// libcurl for the sync transport, loaded on first use.
//
// emreg links libcurl lazily: `dlopen("libcurl.so.4")` happens when the first transport is made,
// not when the process starts. libcurl pulls in some 27 shared libraries (TLS, HTTP/2, LDAP,
// Kerberos, ...), and loading and relocating them cost every `emreg` process about 7 ms of its
// start-up, although only `emreg sync` talks to a hub. The types and constants are libcurl's own
// (<curl/curl.h>); only the functions go through this file. Call `emreg_curl_load` first: the
// other functions assume it succeeded.
#ifndef EMREG_CURL_H
#define EMREG_CURL_H

#include <curl/curl.h>
#include <stddef.h>

/// Loads libcurl and runs `curl_global_init(CURL_GLOBAL_DEFAULT)`, once per process (thread-safe).
/// Returns NULL on success, else a message saying what failed (a static string).
const char *emreg_curl_load(void);

CURL *emreg_curl_easy_init(void);
void emreg_curl_easy_cleanup(CURL *handle);
CURLcode emreg_curl_easy_perform(CURL *handle);
const char *emreg_curl_easy_strerror(CURLcode code);
struct curl_slist *emreg_curl_slist_append(struct curl_slist *list, const char *line);
void emreg_curl_slist_free_all(struct curl_slist *list);

// Typed forms of the variadic `curl_easy_setopt` and `curl_easy_getinfo`, which Swift cannot call.
typedef size_t (*emreg_curl_data_callback)(char *data, size_t size, size_t count, void *context);
CURLcode emreg_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode emreg_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode emreg_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode emreg_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode emreg_curl_setopt_callback(CURL *handle, CURLoption option, emreg_curl_data_callback callback);
CURLcode emreg_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode emreg_curl_getinfo_offset(CURL *handle, CURLINFO info, curl_off_t *value);

/// Allows no protocol at all after a redirect. CURLOPT_REDIR_PROTOCOLS_STR refuses an empty list,
/// so this uses the (deprecated since 7.85, still honoured) bitmask option with 0. The transport
/// also never follows redirects (CURLOPT_FOLLOWLOCATION 0); this is the second lock on the door.
CURLcode emreg_curl_allow_no_redirect_protocols(CURL *handle);

#endif
