// Micro-benchmarks (Google Benchmark): the parser's throughput, the merge's
// units per second, and the engine's step over a 200 000-unit plan.
//
// Inputs: DEPLOYC_BENCH_ORG names the policy tree parsed (default
// examples/acme), DEPLOYC_BENCH_MERGE_ORG the one merged (default: the same).
// bench/run points them at the generated organizations.
#include "compiler/ast/AST.h"
#include "compiler/basic/Diagnostics.h"
#include "common/CanonicalJson.h"
#include "compiler/driver/Compilation.h"
#include "compiler/lower/Lower.h"
#include "compiler/merge/Merge.h"
#include "compiler/parse/Parser.h"
#include "runtime/engine/Engine.h"
#include "runtime/plan/Plan.h"

#include <benchmark/benchmark.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/Path.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

std::string envOr(const char *name, const std::string &fallback) {
  const char *v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::string parseOrg() { return envOr("DEPLOYC_BENCH_ORG", DEPLOYC_SOURCE_DIR "/examples/acme"); }
std::string mergeOrg() { return envOr("DEPLOYC_BENCH_MERGE_ORG", parseOrg()); }
std::string stdlibDir() { return DEPLOYC_SOURCE_DIR "/stdlib"; }

/// Every `*.dpl` below `root`, sorted.
std::vector<std::string> policyFiles(const std::string &root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (llvm::sys::fs::recursive_directory_iterator it(root, ec), end; it != end && !ec; it.increment(ec))
    if (llvm::StringRef(it->path()).endswith(".dpl"))
      out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

// ------------------------------------------------------------------ parsing

/// Lexing, parsing and building the AST of every file of the tree (no
/// checking). Reports bytes per second.
void BM_Parse(benchmark::State &state) {
  dpl::SourceManager sources;
  uint64_t bytes = 0;
  std::vector<std::string> rels;
  for (const std::string &path : policyFiles(parseOrg())) {
    auto buf = llvm::MemoryBuffer::getFile(path);
    if (!buf) {
      state.SkipWithError(("cannot read " + path).c_str());
      return;
    }
    bytes += (*buf)->getBufferSize();
    rels.push_back(path);
    sources.addBuffer(std::move(*buf), path, path);
  }
  if (rels.empty()) {
    state.SkipWithError(("no .dpl files under " + parseOrg()).c_str());
    return;
  }
  for (auto _ : state) {
    dpl::ast::ASTContext ctx;
    dpl::DiagnosticEngine diags(sources);
    for (unsigned b = 1; b <= sources.numBuffers(); ++b)
      dpl::parseFile(b, rels[b - 1], false, ctx, diags);
    if (diags.hasErrors())
      state.SkipWithError("syntax errors in the benchmark input");
    benchmark::DoNotOptimize(ctx.files.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
  state.counters["files"] = double(rels.size());
  state.counters["input_bytes"] = double(bytes);
}
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond)->UseRealTime();

// ------------------------------------------------------------------ merging

/// mergeProgram over a checked model: every unit's values, guards and
/// constraints. Reports units per second.
void BM_Merge(benchmark::State &state) {
  dpl::CompileOptions options;
  options.root = mergeOrg();
  options.stdlibDir = stdlibDir();
  dpl::Compilation compilation(options);
  if (!compilation.run() || !compilation.model()) {
    state.SkipWithError(("the merge input does not check: " + options.root).c_str());
    return;
  }
  size_t units = 0;
  for (auto _ : state) {
    dpl::DiagnosticEngine diags(compilation.sources());
    dpl::MergeResult merged = dpl::mergeProgram(*compilation.model(), diags);
    units = merged.units.size();
    benchmark::DoNotOptimize(merged.units.data());
  }
  state.counters["units"] = double(units);
  state.counters["units/s"] =
      benchmark::Counter(double(units), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Merge)->Unit(benchmark::kMillisecond)->UseRealTime();

// ------------------------------------------------------------------- engine

/// A plan of `services` x `envs` units built in memory, shaped like the ones
/// `deployc compile` writes: dev → staging → a canary prod → the other prods;
/// each unit waits, passes an approval gate, applies, verifies health and a
/// soak, with rollback on failure.
dpl::runtime::Plan makePlan(size_t services, size_t envs) {
  using namespace dpl::runtime;
  Plan plan;
  plan.schema = kPlanSchema;
  std::vector<std::string> envNames;
  for (size_t e = 0; e < envs; ++e) {
    PlanEnvironment env;
    env.name = e == 0 ? "dev" : e == 1 ? "staging" : "prod-" + std::to_string(e - 1);
    if (e == 1)
      env.after = {"dev"};
    else if (e == 2)
      env.after = {"staging"};
    else if (e > 2)
      env.after = {"prod-1"};
    envNames.push_back(env.name);
    plan.environments.push_back(std::move(env));
  }
  plan.groups.push_back({"sre", "security", {"@sre-oncall", "@sre-lead"}});
  char name[32];
  for (size_t s = 0; s < services; ++s) {
    snprintf(name, sizeof name, "svc-%05zu", s);
    plan.services.push_back({name, "team", "services/" + std::string(name) + ".dpl", {}});
  }
  for (const PlanService &svc : plan.services) {
    for (size_t e = 0; e < envs; ++e) {
      const PlanEnvironment &env = plan.environments[e];
      PlanUnit u;
      u.service = svc.name;
      u.environment = env.name;
      u.id = svc.name + "@" + env.name;
      for (const std::string &a : env.after)
        u.waitsFor.push_back(svc.name + "@" + a);
      u.config["replicas"] = 2;
      auto state = [](const char *name, const char *kind, const char *next, const char *onFailure,
                      const char *guard = "") {
        PlanState st;
        st.name = name;
        st.kind = kind;
        st.next = next;
        st.onFailure = onFailure;
        st.guard = guard;
        return st;
      };
      PlanState wait = state("wait", "wait", "gate-1-approval", "");
      wait.waitsFor = u.waitsFor;
      PlanState gate = state("gate-1-approval", "gate", "apply", "", "approval");
      gate.params["group"] = "sre";
      gate.params["count"] = 1;
      PlanState apply = state("apply", "apply", "verify-1-health", "rollback");
      apply.timeoutSeconds = 120;
      PlanState health = state("verify-1-health", "verify", "verify-2-soak", "rollback", "health");
      health.params["kind"] = "http";
      health.params["path"] = "/healthz";
      PlanState soak = state("verify-2-soak", "verify", "succeeded", "rollback", "soak");
      soak.params["duration"] = 120;
      PlanState ok = state("succeeded", "success", "", "");
      PlanState rollback = state("rollback", "rollback", "rolled_back", "rollback_failed");
      rollback.timeoutSeconds = 120;
      PlanState rolledBack = state("rolled_back", "failed", "", "");
      rolledBack.blocksDownstream = true;
      PlanState rollbackFailed = state("rollback_failed", "failed", "", "");
      rollbackFailed.blocksDownstream = true;
      rollbackFailed.notify = true;
      u.states = {wait, gate, apply, health, soak, ok, rollback, rolledBack, rollbackFailed};
      plan.units.push_back(std::move(u));
    }
  }
  plan.indexUnits(); // as loadPlan does
  return plan;
}

/// One tick of the reconcile loop over 10 000 services x 20 environments
/// (200 000 units), with the first `releases` services each releasing a new
/// version: every unit of a released service is scheduled and waits on its
/// upstream environment or the approval gate; the others are idle. The state
/// is the one after the first step, so every iteration does the same work.
/// Reports unit-steps per second (units in the plan / time of one step).
void BM_EngineStep(benchmark::State &state) {
  using namespace dpl::runtime;
  static const Plan plan = makePlan(10000, 20);
  size_t releases = size_t(state.range(0));
  EngineState initial;
  for (size_t s = 0; s < releases && s < plan.services.size(); ++s)
    initial.releases.push_back({"r" + std::to_string(s + 1), plan.services[s].name, "v2", "@ci", 0, ""});
  Observations obs;
  const int64_t now = 1767225600000; // 2026-01-01T00:00:00Z
  StepResult first = step(plan, initial, obs, now);
  for (auto _ : state) {
    // The daemon moves the state it loaded into step(); the copy that keeps
    // every iteration's input the same is not part of a step.
    state.PauseTiming();
    EngineState input = first.state;
    state.ResumeTiming();
    StepResult r = step(plan, std::move(input), obs, now + 1000);
    benchmark::DoNotOptimize(r.journal.data());
    state.PauseTiming();
    r = StepResult(); // freeing the result is not part of the step either
    state.ResumeTiming();
  }
  state.counters["units"] = double(plan.units.size());
  state.counters["unit_steps/s"] =
      benchmark::Counter(double(plan.units.size()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EngineStep)->ArgName("releases")->Arg(1)->Arg(100)->Arg(10000)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

/// One step over the example organization's plan (examples/acme: 12 units)
/// in the middle of a rollout: 1.0.0 of every service released, every unit
/// observed running it healthy, approvals and resources given, so units
/// wait, pass gates, verify and succeed as the state advances. Reports the
/// time of one step.
void BM_EngineStepAcme(benchmark::State &state) {
  using namespace dpl::runtime;
  static const Plan plan = [] {
    dpl::CompileOptions opts;
    opts.root = std::string(DEPLOYC_SOURCE_DIR) + "/examples/acme";
    opts.stdlibDir = std::string(DEPLOYC_SOURCE_DIR) + "/stdlib";
    dpl::Compilation comp(opts);
    if (!comp.run())
      std::abort();
    auto loaded = loadPlan(dpl::prettyJson(dpl::lowerPlan(*comp.model(), comp.merged())));
    if (!loaded)
      std::abort();
    return std::move(*loaded);
  }();
  EngineState s;
  for (const char *svc : {"payments", "api", "web"})
    s.releases.push_back({"r" + std::to_string(s.releases.size() + 1), svc, "1.0.0", "@ci", 0, ""});
  Observations obs;
  for (const PlanUnit &u : plan.units) {
    UnitObservation o;
    o.version = "1.0.0";
    o.health = Health::Healthy;
    obs.units[u.id] = o;
    for (const Release &r : s.releases)
      obs.approvals[u.id + "|" + r.id + "|sre"] = {"@sre-oncall", "@sre-lead"};
  }
  for (const char *res : {"payments-db-migration-staging", "payments-db-migration-prod-eu",
                          "payments-db-migration-prod-us", "release-notes-1.0.0"})
    obs.resources[res] = true;
  int64_t now = 1764579600000; // 2025-12-01T09:00:00Z, a Monday: the window is open
  StepResult mid = step(plan, s, obs, now);
  for (int i = 0; i < 3; ++i)
    mid = step(plan, mid.state, obs, now += 10000);
  for (auto _ : state) {
    StepResult r = step(plan, mid.state, obs, now + 10000); // includes copying the small state
    benchmark::DoNotOptimize(r.journal.data());
  }
  state.counters["units"] = double(plan.units.size());
  state.counters["unit_steps/s"] =
      benchmark::Counter(double(plan.units.size()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EngineStepAcme)->Unit(benchmark::kMicrosecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
