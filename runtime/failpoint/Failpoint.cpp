#include "runtime/failpoint/Failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace dpl::runtime {

namespace {

struct Armed {
  std::map<std::string, long> remaining; ///< point → hits left before dying
};

/// Parses DEPLOYD_FAILPOINTS once: "name[:n],name[:n]…" (n ≥ 1, default 1).
const Armed &armed() {
  static const Armed a = [] {
    Armed out;
    const char *env = std::getenv("DEPLOYD_FAILPOINTS");
    std::string spec = env ? env : "";
    size_t start = 0;
    while (start < spec.size()) {
      size_t end = spec.find(',', start);
      std::string item = spec.substr(start, end == std::string::npos ? std::string::npos : end - start);
      start = end == std::string::npos ? spec.size() : end + 1;
      size_t colon = item.find(':');
      long n = colon == std::string::npos ? 1 : std::strtol(item.c_str() + colon + 1, nullptr, 10);
      if (!item.empty())
        out.remaining[item.substr(0, colon)] = n < 1 ? 1 : n;
    }
    return out;
  }();
  return a;
}

} // namespace

void failpoint(const char *name) {
  const Armed &a = armed();
  if (a.remaining.empty())
    return;
  static std::mutex mu;
  static std::map<std::string, long> hits;
  std::lock_guard<std::mutex> lock(mu);
  auto it = a.remaining.find(name);
  if (it != a.remaining.end() && ++hits[name] >= it->second) {
    // Visible in the test's output, then gone with no clean-up at all.
    static const char msg[] = "deployd: failpoint hit, killing myself\n";
    (void)!write(2, msg, sizeof msg - 1);
    kill(getpid(), SIGKILL);
  }
}

} // namespace dpl::runtime
