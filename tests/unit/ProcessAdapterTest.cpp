// The process adapter with real processes (the example demo service) on
// loopback ports: blue/green switch, failed versions never replacing a
// healthy one, drift, re-adoption by a new adapter, stopping everything.
#include "runtime/adapters/Adapter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace dpl::runtime;

namespace {

struct Fixture {
  fs::path dir;
  Plan plan;
  PlanUnit unit;
  Fixture() {
    dir = fs::temp_directory_path() / ("process-adapter-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    plan.services.push_back({"api", "team", "api.dpl", {}});
    // Below the kernel's ephemeral ports (32768-60999), where an outgoing
    // connection could hold a replica's port, and away from the lit tests.
    int base = 10000 + (::getpid() % 250) * 40;
    unit.id = "api@dev";
    unit.service = "api";
    unit.environment = "dev";
    unit.runtime = llvm::json::Object{{"kind", "process"}, {"workdir", (dir / "dev").string()}, {"base_port", base}};
    std::string server = std::string(DEPLOYC_SOURCE_DIR) + "/examples/demo-service/server.py";
    unit.config["artifact"] = llvm::json::Object{
        {"kind", "exec"},
        {"argv", llvm::json::Array{"python3", server, "--port", "${port}", "--version", "${version}"}}};
    unit.config["replicas"] = 2;
    unit.config["health"] = llvm::json::Object{{"kind", "http"}, {"path", "/healthz"}, {"timeout", 1}};
    unit.config["apply_timeout"] = 4;
  }
  ~Fixture() {
    auto adapter = makeProcessAdapter(plan);
    llvm::consumeError(adapter->rollback(unit, "")); // stop everything
    fs::remove_all(dir);
  }
};

std::vector<int> pidsOf(const fs::path &stateFile, const std::string &version) {
  std::ifstream in(stateFile);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto v = llvm::json::parse(text);
  std::vector<int> out;
  if (!v)
    return llvm::consumeError(v.takeError()), out;
  for (auto &inst : *v->getAsObject()->getArray("instances"))
    if (inst.getAsObject()->getString("version").getValueOr("") == version)
      for (auto &r : *inst.getAsObject()->getArray("replicas"))
        out.push_back(int(*r.getAsObject()->getInteger("pid")));
  return out;
}

/// Running and not a zombie (killed children of an init that does not reap
/// remain in the process table).
bool running(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

/// Observes until `version` is reported with a known health (at most 10 s),
/// as the daemon's ticks would.
UnitObservation settle(Adapter &adapter, const PlanUnit &unit, const std::string &version) {
  UnitObservation o;
  for (int i = 0; i < 100; ++i) {
    o = adapter.observe(unit);
    if (o.version == version && o.health != Health::Unknown)
      return o;
    usleep(100000);
  }
  return o;
}

} // namespace

TEST(ProcessAdapter, RollsOutBlueGreenWithoutWaitingAndStopsTheOldVersionOnlyWhenTheNewIsHealthy) {
  Fixture f;
  auto adapter = makeProcessAdapter(f.plan);
  EXPECT_EQ(adapter->observe(f.unit).version, "");

  ASSERT_FALSE(bool(adapter->apply(f.unit, "v1")));
  UnitObservation o = settle(*adapter, f.unit, "v1");
  EXPECT_EQ(o.version, "v1");
  EXPECT_EQ(o.health, Health::Healthy);
  ASSERT_FALSE(bool(adapter->apply(f.unit, "v1"))); // idempotent
  std::vector<int> v1 = pidsOf(f.dir / "dev" / "api" / "state.json", "v1");
  ASSERT_EQ(v1.size(), 2u);

  ASSERT_FALSE(bool(adapter->apply(f.unit, "v2"))); // returns at once
  std::vector<int> v2 = pidsOf(f.dir / "dev" / "api" / "state.json", "v2");
  ASSERT_EQ(v2.size(), 2u);
  for (int pid : v1)
    EXPECT_TRUE(running(pid)) << "the old version serves until the new one is healthy";
  ASSERT_FALSE(bool(adapter->apply(f.unit, "v2"))); // a repeated apply starts nothing new
  EXPECT_EQ(pidsOf(f.dir / "dev" / "api" / "state.json", "v2"), v2);
  o = settle(*adapter, f.unit, "v2");
  EXPECT_EQ(o.version, "v2");
  EXPECT_EQ(o.health, Health::Healthy);
  for (int pid : v1) {
    for (int i = 0; i < 50 && running(pid); ++i)
      usleep(100000);
    EXPECT_FALSE(running(pid)) << "the old version stops once the new one is healthy";
  }

  // A version that answers unhealthy is reported as such, and never
  // replaces v2; going back to v2 stops it.
  ASSERT_FALSE(bool(adapter->apply(f.unit, "v3-bad")));
  o = settle(*adapter, f.unit, "v3-bad");
  EXPECT_EQ(o.version, "v3-bad");
  EXPECT_EQ(o.health, Health::Unhealthy);
  std::vector<int> bad = pidsOf(f.dir / "dev" / "api" / "state.json", "v3-bad");
  for (int pid : pidsOf(f.dir / "dev" / "api" / "state.json", "v2"))
    EXPECT_TRUE(running(pid));
  ASSERT_FALSE(bool(adapter->rollback(f.unit, "v2")));
  o = adapter->observe(f.unit);
  EXPECT_EQ(o.version, "v2");
  EXPECT_EQ(o.health, Health::Healthy);
  for (int pid : bad)
    EXPECT_FALSE(running(pid));
  auto vars = adapter->variables(f.unit, "v2");
  EXPECT_EQ(vars.count("port"), 1u);
}

TEST(ProcessAdapter, DriftIsSeenRepairedAndProcessesAreReadopted) {
  Fixture f;
  {
    auto adapter = makeProcessAdapter(f.plan);
    ASSERT_FALSE(bool(adapter->apply(f.unit, "v1")));
    ASSERT_EQ(settle(*adapter, f.unit, "v1").health, Health::Healthy);
  }
  // deployd "restarts": a new adapter adopts the running processes.
  auto adapter = makeProcessAdapter(f.plan);
  EXPECT_EQ(adapter->observe(f.unit).health, Health::Healthy);
  std::vector<int> pids = pidsOf(f.dir / "dev" / "api" / "state.json", "v1");
  ASSERT_EQ(pids.size(), 2u);
  ::kill(pids[0], SIGKILL); // a replica dies
  for (int i = 0; i < 50 && running(pids[0]); ++i)
    usleep(100000);
  UnitObservation o = adapter->observe(f.unit);
  EXPECT_EQ(o.health, Health::Unhealthy);
  EXPECT_TRUE(o.degraded);
  llvm::Error repaired = adapter->apply(f.unit, "v1"); // repair: restart only the dead one
  ASSERT_FALSE(bool(repaired)) << llvm::toString(std::move(repaired));
  EXPECT_EQ(settle(*adapter, f.unit, "v1").health, Health::Healthy);
  std::vector<int> after = pidsOf(f.dir / "dev" / "api" / "state.json", "v1");
  ASSERT_EQ(after.size(), 2u);
  EXPECT_NE(after[0], pids[0]);
  EXPECT_EQ(after[1], pids[1]);
}

TEST(ProcessAdapter, AReplicaStartedBeforeACrashIsAdoptedNotStartedTwice) {
  Fixture f;
  auto adapter = makeProcessAdapter(f.plan);
  ASSERT_FALSE(bool(adapter->apply(f.unit, "v1")));
  ASSERT_EQ(settle(*adapter, f.unit, "v1").health, Health::Healthy);
  std::vector<int> pids = pidsOf(f.dir / "dev" / "api" / "state.json", "v1");
  // deployd died after starting the replicas but before recording them.
  fs::path state = f.dir / "dev" / "api" / "state.json";
  std::ofstream(state, std::ios::trunc) << R"({"current": "", "pending": "v1", "instances": [{"version": "v1", "slot": 0, "replicas": []}]})";
  ASSERT_FALSE(bool(adapter->apply(f.unit, "v1"))); // the journalled intent, re-executed
  EXPECT_EQ(pidsOf(state, "v1"), pids);
  EXPECT_EQ(settle(*adapter, f.unit, "v1").health, Health::Healthy);
}

TEST(ProcessAdapter, UnreachableWorkdirIsUnknown) {
  Fixture f;
  std::ofstream(f.dir / "dev") << "a file where the workdir should be";
  auto adapter = makeProcessAdapter(f.plan);
  EXPECT_FALSE(adapter->observe(f.unit).reachable);
}

TEST(ProcessAdapter, APortAnotherProcessListensOnIsRefusedWithAClearError) {
  Fixture f;
  int port = int(*f.unit.runtime.getAsObject()->getInteger("base_port")); // service 0, slot 0, replica 0
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  auto adapter = makeProcessAdapter(f.plan);
  llvm::Error e = adapter->apply(f.unit, "v1");
  ASSERT_TRUE(bool(e));
  EXPECT_EQ(llvm::toString(std::move(e)),
            "api@dev: port " + std::to_string(port) + " is already in use by a process deployd did not start");
  close(fd);
}

TEST(ProcessAdapter, ItsFilesAreDeploydsAloneWhateverTheUmask) {
  // Before: state.json, pid files and logs were 0666 under umask 000, and
  // another user who rewrote state.json made root's `down` kill a process.
  Fixture f;
  mode_t old = umask(0);
  auto adapter = makeProcessAdapter(f.plan);
  ASSERT_FALSE(bool(adapter->apply(f.unit, "v1")));
  settle(*adapter, f.unit, "v1");
  umask(old);
  fs::path unitDir = f.dir / "dev" / "api";
  auto mode = [](const fs::path &p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 ? int(st.st_mode & 0777) : -1;
  };
  EXPECT_EQ(mode(unitDir), 0700);
  EXPECT_EQ(mode(unitDir / "state.json"), 0600);
  EXPECT_EQ(mode(unitDir / "v1-0.pid"), 0600);
  EXPECT_EQ(mode(unitDir / "v1-0.log"), 0600);
}

TEST(ProcessAdapter, HealthProbesReadTheWholeAnswerAndNameTheStatusCode) {
  // Before: the probe read 63 bytes and closed, resetting the connection
  // (106 tracebacks in 2 minutes in a Python server's log), and said only
  // "unhealthy".
  Fixture f;
  auto adapter = makeProcessAdapter(f.plan);
  ASSERT_FALSE(bool(adapter->apply(f.unit, "v1")));
  settle(*adapter, f.unit, "v1");
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(adapter->observe(f.unit).health, Health::Healthy);
  std::ifstream log(f.dir / "dev" / "api" / "v1-0.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_EQ(text.find("Traceback"), std::string::npos) << text;
  EXPECT_EQ(text.find("ConnectionReset"), std::string::npos) << text;
  // A version that answers 503: the observation says so.
  ASSERT_FALSE(bool(adapter->apply(f.unit, "v2-bad")));
  UnitObservation o = settle(*adapter, f.unit, "v2-bad");
  EXPECT_EQ(o.health, Health::Unhealthy);
  EXPECT_NE(o.message.find("/healthz → 503"), std::string::npos) << o.message;
}

TEST(ProcessAdapter, PortsStayWhereTheyAreWhenAServiceIsAdded) {
  // Before: ports were base_port + 20 × the service's index in the plan, so
  // a new service sorting before `api` moved api's ports, and its apply
  // failed on a port deployd itself held.
  Fixture f;
  {
    auto adapter = makeProcessAdapter(f.plan);
    ASSERT_FALSE(bool(adapter->apply(f.unit, "v1")));
    settle(*adapter, f.unit, "v1");
  }
  int apiPort = std::stoi(makeProcessAdapter(f.plan)->variables(f.unit, "v1").at("port"));
  Plan bigger = f.plan;
  bigger.services.insert(bigger.services.begin(), {"aaa", "team", "aaa.dpl", {}});
  PlanUnit aaa = f.unit;
  aaa.id = "aaa@dev";
  aaa.service = "aaa";
  auto adapter = makeProcessAdapter(bigger);
  ASSERT_FALSE(bool(adapter->apply(aaa, "v1")));
  EXPECT_EQ(settle(*adapter, aaa, "v1").health, Health::Healthy);
  int aaaPort = std::stoi(adapter->variables(aaa, "v1").at("port"));
  EXPECT_EQ(aaaPort, apiPort + 20); // the next free block
  // api is untouched, and re-applying it (a repair) keeps its ports.
  ASSERT_FALSE(bool(adapter->apply(f.unit, "v1")));
  EXPECT_EQ(std::stoi(adapter->variables(f.unit, "v1").at("port")), apiPort);
  EXPECT_EQ(adapter->observe(f.unit).health, Health::Healthy);
  llvm::consumeError(adapter->rollback(aaa, ""));
  std::ifstream ports(f.dir / "dev" / "ports.json");
  std::string text((std::istreambuf_iterator<char>(ports)), {});
  EXPECT_NE(text.find("\"aaa\": 1"), std::string::npos) << text;
  EXPECT_NE(text.find("\"api\": 0"), std::string::npos) << text;
}
