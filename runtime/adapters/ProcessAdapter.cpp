// The `process` runtime adapter: `replicas` copies of an `exec` artifact as
// local processes, detached from deployd (they keep serving while it is
// stopped and are re-adopted by observation), with deterministic ports,
// logs under the environment's workdir, HTTP health checks, and the new
// version started and healthy before the old one stops.
#include "runtime/adapters/Adapter.h"

#include "common/CanonicalJson.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

namespace dpl::runtime {

void execArgvOrExit(const std::vector<std::string> &argv) {
  std::vector<char *> args;
  for (auto &a : argv)
    args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  _exit(127);
}

namespace {

/// A replica as recorded in the unit's state file.
struct Replica {
  int pid = 0;
  int port = 0;
  long long startTicks = 0; ///< /proc/<pid>/stat start time: guards against PID reuse
};

struct Instance {
  std::string version;
  int slot = 0;
  std::vector<Replica> replicas;
};

/// Start time of `pid` in clock ticks since boot, 0 if it does not exist.
long long startTicksOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(in)), {});
  size_t close = content.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream rest(content.substr(close + 2));
  std::string field;
  // Fields after "(comm)": state is field 3; starttime is field 22.
  for (int i = 3; i < 22 && rest >> field; ++i) {
  }
  long long ticks = 0;
  rest >> ticks;
  char state = content.size() > close + 2 ? content[close + 2] : 'X';
  return state == 'Z' ? 0 : ticks; // a zombie is not serving
}

bool alive(const Replica &r) { return r.pid > 0 && startTicksOf(r.pid) == r.startTicks && r.startTicks != 0; }

/// HTTP GET with a timeout; true for a 2xx/3xx answer.
bool httpHealthy(int port, const std::string &path, int timeoutMs) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  int rc = connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
  pollfd p{fd, POLLOUT, 0};
  if ((rc == 0 || errno == EINPROGRESS) && poll(&p, 1, timeoutMs) == 1) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (err == 0 && send(fd, req.data(), req.size(), MSG_NOSIGNAL) == ssize_t(req.size())) {
      p.events = POLLIN;
      char buf[64] = {};
      if (poll(&p, 1, timeoutMs) == 1 && recv(fd, buf, sizeof buf - 1, 0) > 12) {
        int code = atoi(buf + 9); // "HTTP/1.x NNN"
        ok = code >= 200 && code < 400;
      }
    }
  }
  close(fd);
  return ok;
}

/// Starts `argv` detached (own session, reparented to init), stdout and
/// stderr appended to `log`. Returns the pid, or 0.
int spawnDetached(const std::vector<std::string> &argv, const fs::path &log) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0)
    return 0;
  pid_t child = fork();
  if (child < 0)
    return 0;
  if (child == 0) {
    // First child: start a new session, fork the real process, report its pid.
    setsid();
    pid_t grandchild = fork();
    if (grandchild == 0) {
      int in = open("/dev/null", O_RDONLY);
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (in >= 0)
        dup2(in, 0);
      if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
      }
      execArgvOrExit(argv);
    }
    int pid = grandchild;
    (void)!write(pipefd[1], &pid, sizeof pid);
    _exit(0);
  }
  close(pipefd[1]);
  int pid = 0;
  if (read(pipefd[0], &pid, sizeof pid) != sizeof pid)
    pid = 0;
  close(pipefd[0]);
  waitpid(child, nullptr, 0);
  return pid;
}

void stopReplica(const Replica &r) {
  if (!alive(r))
    return;
  kill(r.pid, SIGTERM);
  for (int i = 0; i < 50 && alive(r); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (alive(r))
    kill(r.pid, SIGKILL);
}

class ProcessAdapter : public Adapter {
public:
  explicit ProcessAdapter(const Plan &plan) : plan_(plan) {}

  UnitObservation observe(const PlanUnit &unit) override {
    UnitObservation o;
    fs::path dir = unitDir(unit);
    std::error_code ec;
    fs::path workdir = dir.parent_path();
    if (fs::exists(workdir, ec) && !fs::is_directory(workdir, ec)) {
      o.reachable = false;
      return o;
    }
    if (!fs::exists(dir / "state.json", ec)) {
      o.reachable = !ec;
      return o;
    }
    auto state = load(dir);
    if (!state) {
      o.reachable = false;
      return o;
    }
    auto [current, instances] = *state;
    const Instance *inst = find(instances, current);
    if (!inst)
      return o;
    o.version = current;
    o.health = healthOf(unit, *inst);
    return o;
  }

  llvm::Error apply(const PlanUnit &unit, const std::string &version) override {
    return deploy(unit, version);
  }

  llvm::Error rollback(const PlanUnit &unit, const std::string &version) override {
    if (!version.empty())
      return deploy(unit, version);
    fs::path dir = unitDir(unit);
    auto state = load(dir);
    if (!state)
      return llvm::Error::success();
    for (auto &inst : state->second)
      for (auto &r : inst.replicas)
        stopReplica(r);
    return save(dir, "", {});
  }

private:
  using UnitFile = std::pair<std::string, std::vector<Instance>>; // current, instances

  fs::path unitDir(const PlanUnit &unit) const {
    const llvm::json::Object *rt = unit.runtime.getAsObject();
    std::string workdir = rt ? rt->getString("workdir").getValueOr("").str() : "";
    return fs::path(workdir) / unit.service;
  }

  /// Deterministic, collision-free ports: a block of 20 per service (in plan
  /// order) above `base_port`, two slots of 10 so old and new versions run
  /// side by side during a switch.
  int portOf(const PlanUnit &unit, int slot, int replica) const {
    const llvm::json::Object *rt = unit.runtime.getAsObject();
    int base = rt ? int(rt->getInteger("base_port").getValueOr(18000)) : 18000;
    int index = 0;
    for (size_t i = 0; i < plan_.services.size(); ++i)
      if (plan_.services[i].name == unit.service)
        index = int(i);
    return base + 20 * index + 10 * slot + replica;
  }

  Health healthOf(const PlanUnit &unit, const Instance &inst) const {
    int replicas = int(unit.config.getInteger("replicas").getValueOr(1));
    if (int(inst.replicas.size()) < replicas)
      return Health::Unhealthy;
    const llvm::json::Object *health = unit.config.getObject("health");
    for (const Replica &r : inst.replicas) {
      if (!alive(r))
        return Health::Unhealthy;
      if (health && health->getString("kind").getValueOr("") == "http") {
        int port = int(health->getInteger("port").getValueOr(r.port));
        int timeoutMs = int(health->getNumber("timeout").getValueOr(1) * 1000);
        if (!httpHealthy(port, health->getString("path").getValueOr("/").str(), timeoutMs))
          return Health::Unhealthy;
      }
    }
    return Health::Healthy;
  }

  llvm::Error deploy(const PlanUnit &unit, const std::string &version) {
    fs::path dir = unitDir(unit);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      return llvm::createStringError(ec, "%s: cannot create %s: %s", unit.id.c_str(), dir.c_str(),
                                     ec.message().c_str());
    UnitFile state = load(dir).value_or(UnitFile{});
    auto &[current, instances] = state;
    const Instance *cur = find(instances, current);
    int replicas = int(unit.config.getInteger("replicas").getValueOr(1));
    if (current == version && cur && int(cur->replicas.size()) == replicas &&
        std::all_of(cur->replicas.begin(), cur->replicas.end(), alive) && healthOf(unit, *cur) == Health::Healthy)
      return llvm::Error::success(); // already running: idempotent
    // Start the new version on the other slot (or repair the current one).
    int slot = cur && current != version ? 1 - cur->slot : (cur ? cur->slot : 0);
    Instance next;
    next.version = version;
    next.slot = slot;
    if (Instance *old = find(instances, version))
      for (auto &r : old->replicas)
        if (current != version)
          stopReplica(r);
    std::vector<std::string> argvTemplate;
    if (const llvm::json::Object *art = unit.config.getObject("artifact"))
      if (const llvm::json::Array *argv = art->getArray("argv"))
        for (auto &a : *argv)
          argvTemplate.push_back(a.getAsString().getValueOr("").str());
    if (argvTemplate.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: a process runtime needs an exec artifact",
                                     unit.id.c_str());
    for (int i = 0; i < replicas; ++i) {
      Replica r;
      r.port = portOf(unit, slot, i);
      if (current == version && cur && i < int(cur->replicas.size()) && alive(cur->replicas[i])) {
        next.replicas.push_back(cur->replicas[i]); // keep the healthy ones (drift repair)
        continue;
      }
      std::vector<std::string> argv;
      for (auto &a : argvTemplate) {
        std::string s = substituteVersion(a, version);
        for (size_t p; (p = s.find("${port}")) != std::string::npos;)
          s.replace(p, 7, std::to_string(r.port));
        argv.push_back(s);
      }
      r.pid = spawnDetached(argv, dir / (version + "-" + std::to_string(i) + ".log"));
      r.startTicks = r.pid ? startTicksOf(r.pid) : 0;
      next.replicas.push_back(r);
    }
    // Record the starting instance first: a crash now loses no process.
    instances.erase(std::remove_if(instances.begin(), instances.end(),
                                   [&](const Instance &x) { return x.version == version; }),
                    instances.end());
    instances.push_back(next);
    if (auto e = save(dir, current, instances))
      return e;
    // Healthy before the old version stops; bounded by the apply budget.
    double budget = unit.config.getNumber("apply_timeout").getValueOr(300);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(budget * 1000));
    while (healthOf(unit, next) != Health::Healthy) {
      if (std::chrono::steady_clock::now() > deadline ||
          !std::all_of(next.replicas.begin(), next.replicas.end(), alive)) {
        for (auto &r : next.replicas)
          if (current != version)
            stopReplica(r);
        return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: version %s did not become healthy",
                                       unit.id.c_str(), version.c_str());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::string previous = current;
    if (Instance *old = find(instances, previous); old && previous != version)
      for (auto &r : old->replicas)
        stopReplica(r);
    // Keep the previous version's record (not its processes) for rollback.
    return save(dir, version, instances);
  }

  static Instance *find(std::vector<Instance> &instances, const std::string &version) {
    for (auto &i : instances)
      if (i.version == version)
        return &i;
    return nullptr;
  }
  static const Instance *find(const std::vector<Instance> &instances, const std::string &version) {
    for (auto &i : instances)
      if (i.version == version)
        return &i;
    return nullptr;
  }

  static std::optional<UnitFile> load(const fs::path &dir) {
    std::ifstream in(dir / "state.json");
    if (!in)
      return std::nullopt;
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto v = llvm::json::parse(text);
    if (!v) {
      llvm::consumeError(v.takeError());
      return std::nullopt;
    }
    const llvm::json::Object *o = v->getAsObject();
    if (!o)
      return std::nullopt;
    UnitFile out;
    out.first = o->getString("current").getValueOr("").str();
    if (const llvm::json::Array *list = o->getArray("instances"))
      for (auto &iv : *list) {
        const llvm::json::Object *io = iv.getAsObject();
        if (!io)
          continue;
        Instance inst;
        inst.version = io->getString("version").getValueOr("").str();
        inst.slot = int(io->getInteger("slot").getValueOr(0));
        if (const llvm::json::Array *reps = io->getArray("replicas"))
          for (auto &rv : *reps)
            if (const llvm::json::Object *ro = rv.getAsObject())
              inst.replicas.push_back({int(ro->getInteger("pid").getValueOr(0)), int(ro->getInteger("port").getValueOr(0)),
                                       ro->getInteger("start_ticks").getValueOr(0)});
        out.second.push_back(inst);
      }
    return out;
  }

  /// Atomic write: temporary file, then rename.
  static llvm::Error save(const fs::path &dir, const std::string &current, const std::vector<Instance> &instances) {
    llvm::json::Array list;
    for (auto &i : instances) {
      llvm::json::Array reps;
      for (auto &r : i.replicas)
        reps.push_back(llvm::json::Object{{"pid", r.pid}, {"port", r.port}, {"start_ticks", r.startTicks}});
      list.push_back(llvm::json::Object{{"version", i.version}, {"slot", i.slot}, {"replicas", std::move(reps)}});
    }
    std::string text = prettyJson(llvm::json::Object{{"current", current}, {"instances", std::move(list)}});
    fs::path tmp = dir / ".state.json.tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << text;
      if (!out)
        return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot write %s", tmp.c_str());
    }
    std::error_code ec;
    fs::rename(tmp, dir / "state.json", ec);
    return ec ? llvm::createStringError(ec, "cannot write %s: %s", (dir / "state.json").c_str(), ec.message().c_str())
              : llvm::Error::success();
  }

  const Plan &plan_;
};

} // namespace

std::unique_ptr<Adapter> makeProcessAdapter(const Plan &plan) { return std::make_unique<ProcessAdapter>(plan); }

} // namespace dpl::runtime
