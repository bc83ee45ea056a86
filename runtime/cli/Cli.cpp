// Shared parts of deployd's subcommands (see Cli.h).
#include "runtime/cli/Cli.h"

#include "common/Time.h"
#include "runtime/control/Identity.h"

#include <llvm/Support/raw_ostream.h>

#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

namespace dpl::runtime::cli {

namespace {
volatile std::sig_atomic_t gStop = 0;
void onSignal(int) { gStop = 1; }
} // namespace

void stopOnSignals() {
  struct sigaction sa = {};
  sa.sa_handler = onSignal; // no SA_RESTART: a blocking poll returns at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}
bool stopRequested() { return gStop != 0; }
void sleepInterruptibly(int64_t ms) {
  for (int64_t waited = 0; waited < ms && !gStop; waited += 50)
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, ms - waited)));
}

std::string Globals::socketPath() const {
  if (!socket.empty())
    return socket;
  std::filesystem::path parent = std::filesystem::path(state).parent_path();
  return (parent.empty() ? std::filesystem::path("deployd.sock") : parent / "deployd.sock").string();
}

int fail(const std::string &message, int code) {
  llvm::errs() << "deployd: error: " << safe(message) << "\n";
  return code;
}

std::string safe(llvm::StringRef text) { return escapeControl(text); }

std::string stamp(int64_t ms) { return formatRfc3339(ms); }

int64_t wallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The token to send: --token-file (refused when group or others may read
/// it, as ssh refuses such keys), else $DEPLOYD_TOKEN, else none.
static int readToken(const Globals &g, std::string &token) {
  if (!g.tokenFile.empty()) {
    struct stat st;
    if (stat(g.tokenFile.c_str(), &st) != 0)
      return fail("--token-file " + g.tokenFile + ": cannot read it", ExitUsage);
    if (st.st_mode & 077)
      return fail("--token-file " + g.tokenFile + " is readable by group or others; chmod 600 it", ExitUsage);
    std::ifstream in(g.tokenFile);
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
      token.pop_back();
    if (token.empty())
      return fail("--token-file " + g.tokenFile + " is empty", ExitUsage);
    return -1;
  }
  if (const char *env = getenv("DEPLOYD_TOKEN"))
    token = env;
  return -1;
}

int callDaemon(const Globals &g, const std::string &method, llvm::json::Object params, llvm::json::Object &result) {
  std::string token;
  if (int rc = readToken(g, token); rc >= 0)
    return rc;
  auto answer = callControl(g.socketPath(), method, std::move(params), token);
  if (!answer)
    return fail(llvm::toString(answer.takeError()));
  if (const llvm::json::Object *err = answer->getObject("error")) {
    std::string code = err->getString("code").getValueOr("failed").str();
    return fail(err->getString("message").getValueOr("unknown error").str(),
                code == "invalid" || code == "not-found" ? ExitUsage : ExitFailure);
  }
  if (const llvm::json::Object *r = answer->getObject("result"))
    result = *r;
  if (const llvm::json::Object *caller = answer->getObject("caller"))
    result["caller"] = llvm::json::Object(*caller);
  return -1;
}

int openStoreReadOnly(const Globals &g, std::unique_ptr<Store> &store) {
  std::error_code ec;
  if (std::filesystem::is_directory(g.state, ec))
    return fail("--state " + g.state + " is a directory; expected the store file (e.g. .deploy/state.db)", ExitUsage);
  if (!std::filesystem::exists(g.state, ec))
    return fail("no deployd store at " + g.state + " and no deployd listening on " + g.socketPath() +
                    " (start `deployd run` here, or pass --state FILE)",
                ExitUsage);
  auto opened = openSqliteStoreReadOnly(g.state);
  if (!opened)
    return fail(llvm::toString(opened.takeError()), ExitUsage);
  store = std::move(*opened);
  return -1;
}

void printTable(const std::vector<std::vector<std::string>> &rows) {
  std::vector<size_t> width;
  for (auto &row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i)
        width.push_back(0);
      width[i] = std::max(width[i], safe(row[i]).size());
    }
  for (auto &row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      std::string cell = safe(row[i]);
      line += cell;
      if (i + 1 < row.size())
        line += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    llvm::outs() << line << "\n";
  }
}

} // namespace dpl::runtime::cli
