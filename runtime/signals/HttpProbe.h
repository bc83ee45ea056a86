// HTTP health probes through libcurl (issue 10.15: the hand-written probe
// read 63 bytes and reset the connection). The whole answer is read, up to
// 64 KiB, and the connection closed cleanly.
#pragma once

#include <string>

namespace dpl::runtime {

struct HttpProbeResult {
  enum Outcome { Refused, Ok, Failed } outcome = Failed;
  long status = 0;    ///< the HTTP status code, 0 without an answer
  std::string detail; ///< for the journal: "GET http://… → 503", "timed out after 1000 ms"
};

/// GET `url` with `timeoutMs` for the whole exchange. Ok for 2xx/3xx;
/// Refused when nothing listens (connection refused); Failed for any other
/// status or no answer in time.
HttpProbeResult probeHttp(const std::string &url, int timeoutMs);

} // namespace dpl::runtime
