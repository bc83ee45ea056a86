// libcurl health probes (see HttpProbe.h).
#include "runtime/signals/HttpProbe.h"

#include <curl/curl.h>

#include <mutex>

namespace dpl::runtime {

namespace {
size_t discard(char *, size_t size, size_t count, void *seen) {
  size_t &total = *static_cast<size_t *>(seen);
  total += size * count;
  return total > 65536 ? 0 : size * count; // enough of a health answer
}
} // namespace

HttpProbeResult probeHttp(const std::string &url, int timeoutMs) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  HttpProbeResult out;
  CURL *curl = curl_easy_init();
  if (!curl) {
    out.detail = "cannot start an HTTP request";
    return out;
  }
  size_t seen = 0;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(timeoutMs));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, long(timeoutMs));
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROXY, ""); // never through a proxy from the environment
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &seen);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "deployd-health/0.2");
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
  curl_easy_cleanup(curl);
  if (rc == CURLE_COULDNT_CONNECT) {
    out.outcome = HttpProbeResult::Refused;
    out.detail = "GET " + url + ": connection refused";
  } else if (out.status > 0 && (rc == CURLE_OK || rc == CURLE_WRITE_ERROR)) {
    out.outcome = out.status >= 200 && out.status < 400 ? HttpProbeResult::Ok : HttpProbeResult::Failed;
    out.detail = "GET " + url + " → " + std::to_string(out.status);
  } else {
    out.detail = "GET " + url + ": " + (rc == CURLE_OPERATION_TIMEDOUT ? "no answer in " + std::to_string(timeoutMs) + " ms"
                                                                      : std::string(curl_easy_strerror(rc)));
  }
  return out;
}

} // namespace dpl::runtime
