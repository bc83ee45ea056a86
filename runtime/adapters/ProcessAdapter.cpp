// The `process` runtime adapter: `replicas` copies of an `exec` artifact as
// local processes, detached from deployd (they keep serving while it is
// stopped and are re-adopted by observation), with deterministic ports,
// logs under the environment's workdir, HTTP health checks, and the new
// version started and healthy before the old one stops.
#include "runtime/adapters/Adapter.h"

#include "common/CanonicalJson.h"
#include "runtime/failpoint/Failpoint.h"
#include "runtime/signals/HttpProbe.h"

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
#include <map>
#include <optional>
#include <set>
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

/// `<workdir>/<service>/state.json`: the version serving traffic, the one
/// being switched to (if any) and their processes.
struct UnitFile {
  std::string current, pending;
  std::vector<Instance> instances;
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

/// Seconds since the replica's process started.
double ageOf(const Replica &r) {
  std::ifstream in("/proc/uptime");
  double uptime = 0;
  in >> uptime;
  return uptime - double(r.startTicks) / double(sysconf(_SC_CLK_TCK));
}

/// A replica that does not listen yet counts as starting (health unknown)
/// for this long after its process started; later it is unhealthy.
constexpr double kStartGraceSeconds = 30;

/// `<dir>/<version>-<replica>.pid`: written by the replica itself before it
/// executes the artifact, so a replica started just before deployd died is
/// found again (adopted) instead of started twice.
fs::path pidFileOf(const fs::path &dir, const std::string &version, int replica) {
  return dir / (version + "-" + std::to_string(replica) + ".pid");
}

/// Starts `argv` detached (own session, reparented to init), stdout and
/// stderr appended to `log`; the replica records "pid start-ticks port" in
/// `pidFile` first. Returns the pid, or 0.
int spawnDetached(const std::vector<std::string> &argv, const fs::path &log, const fs::path &pidFile, int port) {
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
      std::string record = std::to_string(getpid()) + " " + std::to_string(startTicksOf(getpid())) + " " +
                           std::to_string(port) + "\n";
      std::string tmp = pidFile.string() + ".tmp";
      int pf = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
      if (pf >= 0) {
        (void)!write(pf, record.data(), record.size());
        close(pf);
        rename(tmp.c_str(), pidFile.c_str());
      }
      int in = open("/dev/null", O_RDONLY);
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
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

/// Does something accept connections on 127.0.0.1:`port`? (A connect, not
/// a trial bind: sockets a killed replica left closing must not count.)
bool portTaken(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool taken = true; // connected, or a listener too busy to answer in time
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    pollfd p{fd, POLLOUT, 0};
    if (errno == ECONNREFUSED) {
      taken = false;
    } else if (errno == EINPROGRESS && poll(&p, 1, 200) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      taken = err != ECONNREFUSED;
    }
  }
  close(fd);
  return taken;
}

/// A replica that was just killed may hold its port a moment longer (its
/// other threads are still exiting): waits up to 2 s for the port to free.
bool portFreedSoon(int port) {
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!portTaken(port))
      return true;
  }
  return false;
}

/// The replica recorded in a pid file, if it is still that process.
std::optional<Replica> adopt(const fs::path &pidFile, int port) {
  std::ifstream in(pidFile);
  Replica r;
  int recordedPort = 0;
  if (!(in >> r.pid >> r.startTicks >> recordedPort) || recordedPort != port || !alive(r))
    return std::nullopt;
  r.port = port;
  return r;
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

/// Level-triggered and idempotent: `apply` records the switch it wants in
/// the unit's state file and starts the new version's replicas next to the
/// old ones; it never waits. `observe` reports the version being switched to
/// and, once every replica of it answers healthy, completes the switch by
/// stopping the old version. A crash at any point leaves a state file from
/// which the next call carries on, and replicas are adopted through their pid
/// files, so none is started twice.
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
    if (Instance *next = find(state->instances, state->pending)) {
      Health h = healthOf(unit, *next, /*starting=*/true, &o.message);
      if (h != Health::Healthy) {
        o.version = state->pending;
        o.health = h;
        o.degraded = !allRunning(unit, *next);
        return o;
      }
      // The new version is healthy: now, and only now, the old one stops.
      if (Instance *old = find(state->instances, state->current)) {
        for (auto &r : old->replicas)
          stopReplica(r);
        failpoint("process-after-stop-old");
      }
      std::string version = state->pending;
      state->current = version;
      state->pending.clear();
      dropOthers(*state);
      if (llvm::Error e = save(dir, *state)) {
        llvm::consumeError(std::move(e));
        o.reachable = false;
        return o;
      }
      o.version = version; // just probed: every replica runs and answers healthy
      o.health = Health::Healthy;
      return o;
    }
    const Instance *inst = find(state->instances, state->current);
    if (!inst)
      return o;
    o.version = state->current;
    o.health = healthOf(unit, *inst, /*starting=*/false, &o.message);
    o.degraded = !allRunning(unit, *inst);
    return o;
  }

  llvm::Error apply(const PlanUnit &unit, const std::string &version) override { return deploy(unit, version); }

  llvm::Error rollback(const PlanUnit &unit, const std::string &version) override {
    if (!version.empty())
      return deploy(unit, version);
    fs::path dir = unitDir(unit);
    auto state = load(dir);
    if (!state)
      return llvm::Error::success();
    for (auto &inst : state->instances)
      for (auto &r : inst.replicas)
        stopReplica(r);
    return save(dir, UnitFile{});
  }

  std::vector<std::string> targets(const PlanUnit &unit) override {
    const llvm::json::Object *rt = unit.runtime.getAsObject();
    return {rt ? rt->getString("workdir").getValueOr("").str() : ""};
  }

  std::map<std::string, std::string> variables(const PlanUnit &unit, const std::string &version) override {
    std::map<std::string, std::string> out;
    if (auto state = load(unitDir(unit)))
      if (const Instance *inst = find(state->instances, version); inst && !inst->replicas.empty())
        out["port"] = std::to_string(inst->replicas.front().port);
    return out;
  }

private:
  fs::path unitDir(const PlanUnit &unit) const {
    const llvm::json::Object *rt = unit.runtime.getAsObject();
    std::string workdir = rt ? rt->getString("workdir").getValueOr("").str() : "";
    return fs::path(workdir) / unit.service;
  }

  /// Stable, collision-free ports (issue 10.9): each service of a workdir
  /// owns a block of 20 ports above `base_port`, recorded in
  /// `<workdir>/ports.json` the first time the service is deployed there and
  /// never moved, so adding or removing a service renumbers nothing. Two
  /// slots of 10 let the old and the new version run side by side. A
  /// workdir from before ports.json is seeded from its units' state files.
  llvm::Expected<int> blockOf(const PlanUnit &unit) {
    const llvm::json::Object *rt = unit.runtime.getAsObject();
    fs::path workdir = rt ? rt->getString("workdir").getValueOr("").str() : "";
    int base = rt ? int(rt->getInteger("base_port").getValueOr(18000)) : 18000;
    std::map<std::string, int> &blocks = blocks_[workdir.string()];
    if (blocks.empty())
      blocks = loadBlocks(workdir, base);
    if (auto it = blocks.find(unit.service); it != blocks.end())
      return it->second;
    std::set<int> used;
    for (auto &[service, block] : blocks)
      used.insert(block);
    int block = 0;
    while (used.count(block))
      ++block;
    blocks[unit.service] = block;
    if (llvm::Error e = saveBlocks(workdir, blocks)) {
      blocks.erase(unit.service);
      return e;
    }
    return block;
  }

  static std::map<std::string, int> loadBlocks(const fs::path &workdir, int base) {
    std::map<std::string, int> out;
    std::ifstream in(workdir / "ports.json");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    if (auto v = llvm::json::parse(text); v && v->getAsObject()) {
      if (const llvm::json::Object *services = v->getAsObject()->getObject("services"))
        for (auto &[name, block] : *services)
          if (auto b = block.getAsInteger(); b && *b >= 0 && *b < 100000)
            out[name.str()] = int(*b);
      return out;
    } else if (!v) {
      llvm::consumeError(v.takeError());
    }
    // Seed from what runs: the block of each unit's first replica.
    std::error_code ec;
    for (auto &entry : fs::directory_iterator(workdir, ec))
      if (auto state = load(entry.path()))
        for (auto &inst : state->instances)
          if (!inst.replicas.empty() && inst.replicas.front().port >= base) {
            out[entry.path().filename().string()] = (inst.replicas.front().port - base) / 20;
            break;
          }
    return out;
  }

  static llvm::Error saveBlocks(const fs::path &workdir, const std::map<std::string, int> &blocks) {
    std::error_code ec;
    fs::create_directories(workdir, ec);
    llvm::json::Object services;
    for (auto &[name, block] : blocks)
      services[name] = block;
    return writeFileAtomically(workdir / "ports.json",
                               prettyJson(llvm::json::Object{{"services", std::move(services)}}) + "\n");
  }

  static int portOf(const PlanUnit &unit, int block, int slot, int replica) {
    const llvm::json::Object *rt = unit.runtime.getAsObject();
    int base = rt ? int(rt->getInteger("base_port").getValueOr(18000)) : 18000;
    return base + 20 * block + 10 * slot + replica;
  }

  static int wanted(const PlanUnit &unit) { return int(unit.config.getInteger("replicas").getValueOr(1)); }

  static bool allRunning(const PlanUnit &unit, const Instance &inst) {
    return int(inst.replicas.size()) >= wanted(unit) && std::all_of(inst.replicas.begin(), inst.replicas.end(), alive);
  }

  /// A version being started is `unknown` while a replica is missing or not
  /// listening yet (a restarted replica of the serving version too, for
  /// kStartGraceSeconds); a dead replica, an error answer, or a serving
  /// replica that stopped listening is `unhealthy`.
  Health healthOf(const PlanUnit &unit, const Instance &inst, bool starting, std::string *why = nullptr) const {
    auto say = [&](std::string text) {
      if (why)
        *why = std::move(text);
    };
    if (int(inst.replicas.size()) < wanted(unit)) {
      say(std::to_string(inst.replicas.size()) + " of " + std::to_string(wanted(unit)) + " replicas");
      return starting ? Health::Unknown : Health::Unhealthy;
    }
    const llvm::json::Object *health = unit.config.getObject("health");
    bool unknown = false;
    for (size_t i = 0; i < inst.replicas.size(); ++i) {
      const Replica &r = inst.replicas[i];
      if (!alive(r)) {
        say("replica " + std::to_string(i) + " (pid " + std::to_string(r.pid) + ") is not running");
        return Health::Unhealthy;
      }
      if (health && health->getString("kind").getValueOr("") == "http") {
        int port = int(health->getInteger("port").getValueOr(r.port));
        int timeoutMs = int(health->getNumber("timeout").getValueOr(1) * 1000);
        HttpProbeResult p = probeHttp("http://127.0.0.1:" + std::to_string(port) +
                                          health->getString("path").getValueOr("/").str(),
                                      timeoutMs);
        if (p.outcome == HttpProbeResult::Failed ||
            (p.outcome == HttpProbeResult::Refused && !starting && ageOf(r) > kStartGraceSeconds)) {
          say(p.detail);
          return Health::Unhealthy;
        }
        if (p.outcome == HttpProbeResult::Refused) {
          unknown = true;
          say(p.detail);
        }
      }
    }
    return unknown ? Health::Unknown : Health::Healthy;
  }

  /// Makes every replica of `inst` run: keeps live ones, adopts one started
  /// before a crash, starts the rest (failpoint `process-after-spawn`).
  llvm::Error ensureReplicas(const PlanUnit &unit, const fs::path &dir, UnitFile &state, Instance &inst) {
    std::vector<std::string> argvTemplate;
    if (const llvm::json::Object *art = unit.config.getObject("artifact"))
      if (const llvm::json::Array *argv = art->getArray("argv"))
        for (auto &a : *argv)
          argvTemplate.push_back(a.getAsString().getValueOr("").str());
    if (argvTemplate.empty())
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: a process runtime needs an exec artifact",
                                     unit.id.c_str());
    auto block = blockOf(unit);
    if (!block)
      return block.takeError();
    int n = wanted(unit);
    for (size_t i = n; i < inst.replicas.size(); ++i)
      stopReplica(inst.replicas[i]); // scaled down
    inst.replicas.resize(std::min<size_t>(inst.replicas.size(), n));
    for (int i = 0; i < n; ++i) {
      int port = portOf(unit, *block, inst.slot, i);
      if (i < int(inst.replicas.size()) && alive(inst.replicas[i]))
        continue;
      Replica r;
      r.port = port;
      if (auto adopted = adopt(pidFileOf(dir, inst.version, i), port)) {
        r = *adopted;
      } else if (portTaken(port) && !portFreedSoon(port)) {
        // Not one of ours: starting a replica there would only fail later.
        (void)save(dir, state);
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "%s: port %d is already in use by a process deployd did not start",
                                       unit.id.c_str(), port);
      } else {
        std::vector<std::string> argv;
        for (auto &a : argvTemplate) {
          std::string s = substituteVersion(a, inst.version);
          for (size_t p; (p = s.find("${port}")) != std::string::npos;)
            s.replace(p, 7, std::to_string(port));
          argv.push_back(s);
        }
        r.pid = spawnDetached(argv, dir / (inst.version + "-" + std::to_string(i) + ".log"),
                              pidFileOf(dir, inst.version, i), port);
        r.startTicks = r.pid ? startTicksOf(r.pid) : 0;
        failpoint("process-after-spawn");
      }
      if (i < int(inst.replicas.size()))
        inst.replicas[i] = r;
      else
        inst.replicas.push_back(r);
    }
    return save(dir, state);
  }

  llvm::Error deploy(const PlanUnit &unit, const std::string &version) {
    fs::path dir = unitDir(unit);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      return llvm::createStringError(ec, "%s: cannot create %s: %s", unit.id.c_str(), dir.c_str(),
                                     ec.message().c_str());
    // The unit's state, pid files and logs are deployd's alone (issue 10.7):
    // another user who could rewrite state.json could make `down` kill
    // processes of deployd's user.
    chmod(dir.c_str(), 0700);
    UnitFile state = load(dir).value_or(UnitFile{});
    if (Instance *cur = find(state.instances, state.current); cur && state.current == version) {
      // Back to (or repair of) the serving version: abandon any switch.
      if (Instance *next = find(state.instances, state.pending))
        for (auto &r : next->replicas)
          stopReplica(r);
      state.pending.clear();
      dropOthers(state);
      return ensureReplicas(unit, dir, state, *find(state.instances, state.current));
    }
    if (Instance *next = find(state.instances, state.pending); next && state.pending == version)
      return ensureReplicas(unit, dir, state, *next); // the switch is under way
    // A new switch: an abandoned one stops first.
    if (Instance *next = find(state.instances, state.pending))
      for (auto &r : next->replicas)
        stopReplica(r);
    const Instance *cur = find(state.instances, state.current);
    Instance fresh;
    fresh.version = version;
    fresh.slot = cur ? 1 - cur->slot : 0;
    state.pending = version;
    dropOthers(state);
    state.instances.push_back(fresh);
    // The intended switch is on disk before any process starts.
    if (llvm::Error e = save(dir, state))
      return e;
    return ensureReplicas(unit, dir, state, state.instances.back());
  }

  /// Forgets every instance but the current and pending ones.
  static void dropOthers(UnitFile &state) {
    state.instances.erase(std::remove_if(state.instances.begin(), state.instances.end(),
                                         [&](const Instance &x) {
                                           return x.version != state.current && x.version != state.pending;
                                         }),
                          state.instances.end());
  }

  static Instance *find(std::vector<Instance> &instances, const std::string &version) {
    if (version.empty())
      return nullptr;
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
    out.current = o->getString("current").getValueOr("").str();
    out.pending = o->getString("pending").getValueOr("").str();
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
        out.instances.push_back(inst);
      }
    return out;
  }

  static llvm::Error save(const fs::path &dir, const UnitFile &state) {
    llvm::json::Array list;
    for (auto &i : state.instances) {
      llvm::json::Array reps;
      for (auto &r : i.replicas)
        reps.push_back(llvm::json::Object{{"pid", r.pid}, {"port", r.port}, {"start_ticks", r.startTicks}});
      list.push_back(llvm::json::Object{{"version", i.version}, {"slot", i.slot}, {"replicas", std::move(reps)}});
    }
    std::string text = prettyJson(
        llvm::json::Object{{"current", state.current}, {"pending", state.pending}, {"instances", std::move(list)}});
    return writeFileAtomically(dir / "state.json", text);
  }

  /// Temporary file (0600), every write and the fsync checked, then rename:
  /// a full disk leaves the old file as it was, never a truncated one.
  static llvm::Error writeFileAtomically(const fs::path &path, const std::string &text) {
    fs::path tmp = path.parent_path() / ("." + path.filename().string() + ".tmp");
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
      return llvm::createStringError(std::error_code(errno, std::generic_category()), "cannot write %s: %s",
                                     tmp.c_str(), strerror(errno));
    bool ok = true;
    for (size_t done = 0; ok && done < text.size();) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      ok = n > 0;
      done += ok ? size_t(n) : 0;
    }
    int saved = errno;
    ok = ok && ::fsync(fd) == 0;
    if (!ok)
      saved = errno;
    ok = ::close(fd) == 0 && ok;
    if (!ok) {
      ::unlink(tmp.c_str());
      return llvm::createStringError(std::error_code(saved, std::generic_category()), "cannot write %s: %s",
                                     tmp.c_str(), strerror(saved));
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    return ec ? llvm::createStringError(ec, "cannot write %s: %s", path.c_str(), ec.message().c_str())
              : llvm::Error::success();
  }

  const Plan &plan_;
  std::map<std::string, std::map<std::string, int>> blocks_; ///< workdir → service → port block
};

} // namespace

std::unique_ptr<Adapter> makeProcessAdapter(const Plan &plan) { return std::make_unique<ProcessAdapter>(plan); }

} // namespace dpl::runtime
