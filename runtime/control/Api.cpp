// The control API's methods (see Api.h).
#include "runtime/control/Api.h"

#include <llvm/ADT/StringExtras.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace dpl::runtime {

using llvm::json::Array;
using llvm::json::Object;
using llvm::json::Value;

namespace {

struct Caller {
  std::string identity;
  bool viaToken = false;
  bool admin = false;
};

struct Failure {
  std::string code, message;
};

Value error(const std::string &code, const std::string &message) {
  return Object{{"error", Object{{"code", code}, {"message", message}}}};
}

std::string closest(const std::string &typo, const std::vector<std::string> &names) {
  std::string best;
  unsigned bestDistance = 4;
  for (const std::string &n : names) {
    unsigned d = llvm::StringRef(typo).edit_distance(n, true, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = n;
    }
  }
  return best.empty() ? "" : "; did you mean `" + best + "`?";
}

bool memberOf(const Plan &plan, const std::string &group, const std::string &who) {
  const PlanGroup *g = plan.group(group);
  return g && std::find(g->members.begin(), g->members.end(), who) != g->members.end();
}

/// The approval groups of a unit, in gate order.
std::vector<std::string> approvalGroups(const PlanUnit &u) {
  std::vector<std::string> out;
  for (auto &s : u.states)
    if (s.guard == "approval")
      out.push_back(s.params.getString("group").getValueOr("").str());
  return out;
}

class Handlers {
public:
  Handlers(ApiContext &ctx, const Object &params, const Caller &caller) : ctx_(ctx), p_(params), caller_(caller) {}

  std::string str(const char *key) const { return p_.getString(key).getValueOr("").str(); }

  const PlanUnit *unit(const std::string &id, Failure &f) const {
    if (id.find('@') == std::string::npos) {
      f = {"invalid", "expected a unit as SERVICE@ENV, found `" + escapeControl(id) + "`"};
      return nullptr;
    }
    if (const PlanUnit *u = ctx_.plan.unit(id))
      return u;
    std::vector<std::string> ids;
    for (auto &u : ctx_.plan.units)
      ids.push_back(u.id);
    f = {"not-found", "unknown unit `" + escapeControl(id) + "` in the plan deployd runs" + closest(id, ids)};
    return nullptr;
  }

  /// "" when the plan has `service`, else the error with a "did you mean".
  std::string unknownService(const std::string &service) const {
    std::vector<std::string> names;
    for (auto &s : ctx_.plan.services) {
      if (s.name == service)
        return "";
      names.push_back(s.name);
    }
    return "unknown service `" + escapeControl(service) + "` in the plan deployd runs" + closest(service, names);
  }

  /// Rollback and resume: a member of one of the unit's approval groups,
  /// an admin, or, for a unit without approval gates, anyone identified.
  bool mayOverride(const PlanUnit &u, Failure &f) const {
    std::vector<std::string> groups = approvalGroups(u);
    if (caller_.admin || groups.empty())
      return true;
    for (auto &g : groups)
      if (memberOf(ctx_.plan, g, caller_.identity))
        return true;
    f = {"forbidden", caller_.identity + " may not roll back or resume " + u.id + ": not a member of " +
                          llvm::join(groups, " or ") + " (who may approve it)"};
    return false;
  }

  llvm::Expected<Value> release() {
    std::string service = str("service"), version = str("version");
    if (!validVersion(version))
      return fail("invalid", "invalid version `" + escapeControl(version) +
                                 "`: expected letters, digits, `.`, `_`, `+` or `-`, not starting with `.` or `-`");
    if (std::string why = unknownService(service); !why.empty())
      return fail("not-found", why);
    int64_t now = ctx_.now();
    Release r{"", service, version, caller_.identity, now, ctx_.plan.hash};
    if (llvm::Error e = ctx_.store.mutateState(
            [&](EngineState &s) {
              r.id = "r" + std::to_string(s.releases.size() + 1);
              s.releases.push_back(r);
            },
            now))
      return e;
    if (llvm::Error e = ctx_.store.appendJournal(
            {{service, r.id, "-", "requested", "release " + r.id + " (" + version + ") by " + caller_.identity}}, now))
      return e;
    return Object{{"release", r.id}, {"service", service}, {"version", version}, {"by", caller_.identity}};
  }

  llvm::Expected<Value> approve() {
    Failure f;
    const PlanUnit *u = unit(str("unit"), f);
    if (!u)
      return fail(f);
    std::vector<std::string> groups = approvalGroups(*u);
    if (groups.empty())
      return fail("invalid", u->id + " needs no approval");
    auto state = ctx_.store.loadState();
    if (!state)
      return state.takeError();
    // The release: the one the unit works on now, unless named.
    std::string releaseId = str("release");
    const Release *rel = nullptr;
    if (releaseId.empty()) {
      if (auto run = state->runs.find(u->id); run != state->runs.end())
        releaseId = run->second.release;
    }
    for (auto &r : state->releases)
      if (r.service == u->service && (releaseId.empty() || r.id == releaseId))
        rel = &r; // without a run yet: the newest release of the service
    if (!rel)
      return fail("not-found", releaseId.empty() ? "no release of `" + u->service + "` to approve"
                                                 : "no release `" + escapeControl(releaseId) + "` of `" + u->service + "`");
    if (caller_.identity == rel->createdBy)
      return fail("forbidden", caller_.identity + " created release " + rel->id + " and cannot approve it");
    Observations signals;
    if (llvm::Error e = ctx_.store.loadSignals(signals))
      return e;
    std::string as;
    bool already = false;
    for (auto &g : groups) {
      if (!memberOf(ctx_.plan, g, caller_.identity))
        continue;
      auto it = signals.approvals.find(u->id + "|" + rel->id + "|" + g);
      if (it != signals.approvals.end() && it->second.count(caller_.identity)) {
        already = true;
        continue;
      }
      as = g;
      break;
    }
    Object result{{"unit", u->id}, {"release", rel->id}, {"version", rel->version}, {"by", caller_.identity}};
    if (as.empty() && already) {
      result["already"] = true;
      return result;
    }
    if (as.empty())
      return fail("forbidden", caller_.identity + " may not approve " + u->id + ": not a member of " +
                                   llvm::join(groups, " or "));
    int64_t now = ctx_.now();
    if (llvm::Error e = ctx_.store.recordApproval({u->id, rel->id, as, caller_.identity, ctx_.plan.hash}, now))
      return e;
    if (llvm::Error e = ctx_.store.appendJournal(
            {{u->id, rel->id, "-", "approved", "approved by " + caller_.identity + " as a member of " + as}}, now))
      return e;
    result["group"] = as;
    return result;
  }

  llvm::Expected<Value> resource() {
    std::string name = str("name"), value = str("state");
    if (value != "ready" && value != "not-ready")
      return fail("invalid", "expected `ready` or `not-ready`, found `" + escapeControl(value) + "`");
    std::vector<std::string> names;
    bool known = false;
    for (auto &u : ctx_.plan.units)
      for (auto &st : u.states)
        if (st.guard == "resource") {
          std::string pattern = st.params.getString("name").getValueOr("").str();
          names.push_back(pattern);
          size_t at = pattern.find("${version}");
          if (at == std::string::npos)
            known |= pattern == name;
          else
            known |= name.size() > pattern.size() - 10 && name.compare(0, at, pattern, 0, at) == 0 &&
                     name.compare(name.size() - (pattern.size() - at - 10), std::string::npos, pattern, at + 10,
                                  std::string::npos) == 0;
        }
    if (!known) {
      std::string hint = closest(name, names);
      if (hint.empty() && !names.empty()) {
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        hint = "; its resource guards wait for " +
               llvm::join(names.begin(), names.begin() + std::min<size_t>(names.size(), 8), ", ");
      }
      return fail("not-found", "no resource guard in the plan deployd runs waits for `" + escapeControl(name) + "`" + hint);
    }
    int64_t now = ctx_.now();
    if (llvm::Error e = ctx_.store.setResource(name, value == "ready", now))
      return e;
    if (llvm::Error e = ctx_.store.appendJournal({{"-", "-", "-", "resource", name + " marked " + value + " by " + caller_.identity}}, now))
      return e;
    return Object{{"name", name}, {"state", value}, {"by", caller_.identity}};
  }

  llvm::Expected<Value> pin(bool rollback) {
    Failure f;
    const PlanUnit *u = unit(str("unit"), f);
    if (!u || !mayOverride(*u, f))
      return fail(f);
    auto state = ctx_.store.loadState();
    if (!state)
      return state.takeError();
    if (rollback) {
      auto good = state->lastGood.find(u->id);
      auto run = state->runs.find(u->id);
      bool target = (good != state->lastGood.end() && !good->second.empty()) ||
                    (run != state->runs.end() && !run->second.previousVersion.empty());
      if (!target)
        return fail("conflict", "cannot roll back " + u->id +
                                    ": no earlier version succeeded here (nothing was stopped; `deployd down` "
                                    "stops workloads)");
    }
    bool wasPinned = state->pinned.count(u->id) != 0;
    int64_t now = ctx_.now();
    if (llvm::Error e = ctx_.store.mutateState(
            [&](EngineState &s) {
              if (rollback)
                s.rollbackRequests[u->id] = caller_.identity;
              else
                s.pinned.erase(u->id);
            },
            now))
      return e;
    if (rollback || wasPinned)
      if (llvm::Error e = ctx_.store.appendJournal(
              {{u->id, "-", "-", rollback ? "rollback-requested" : "resumed",
                (rollback ? "manual rollback requested by " : "resumed by ") + caller_.identity}},
              now))
        return e;
    return Object{{"unit", u->id}, {"by", caller_.identity}, {"was_pinned", wasPinned}};
  }

  llvm::Expected<Value> tokenCreate() {
    std::string identity = str("identity");
    if (!validIdentity(identity))
      return fail("invalid", "invalid identity `" + escapeControl(identity) +
                                 "`: expected @ and letters, digits, `.`, `_` or `-`");
    std::string token = newToken();
    if (token.empty())
      return fail("failed", "no randomness available for a token");
    TokenRecord t{tokenHash(token), identity, caller_.identity, ctx_.now(), -1};
    if (llvm::Error e = ctx_.store.addToken(t))
      return e;
    if (llvm::Error e = ctx_.store.appendJournal({{"-", "-", "-", "token", "token for " + identity + " created by " + caller_.identity}}, t.createdAtMs))
      return e;
    return Object{{"identity", identity}, {"token", token}};
  }

  llvm::Expected<Value> tokenList() {
    auto list = ctx_.store.tokens();
    if (!list)
      return list.takeError();
    Array out;
    for (auto &t : *list)
      out.push_back(Object{{"identity", t.identity}, {"created_by", t.createdBy}, {"created_at_ms", t.createdAtMs},
                           {"revoked_at_ms", t.revokedAtMs}, {"hash_prefix", t.hash.substr(0, 19)}});
    return Object{{"tokens", std::move(out)}};
  }

  llvm::Expected<Value> tokenRevoke() {
    std::string identity = str("identity");
    auto n = ctx_.store.revokeTokens(identity, ctx_.now());
    if (!n)
      return n.takeError();
    if (*n)
      if (llvm::Error e = ctx_.store.appendJournal({{"-", "-", "-", "token", std::to_string(*n) + " token(s) of " + identity + " revoked by " + caller_.identity}}, ctx_.now()))
        return e;
    return Object{{"identity", identity}, {"revoked", *n}};
  }

  llvm::Expected<Value> prune() {
    std::string env = str("environment");
    for (auto &e : ctx_.plan.environments)
      if (e.name == env)
        return fail("conflict", "environment `" + env + "` is in the plan deployd runs; prune only stops "
                                "environments removed from it");
    auto state = ctx_.store.loadState();
    if (!state)
      return state.takeError();
    auto observed = ctx_.store.observations();
    if (!observed)
      return observed.takeError();
    std::set<std::string> orphans;
    auto consider = [&](const std::string &id) {
      if (llvm::StringRef(id).split('@').second == env && !ctx_.plan.unit(id))
        orphans.insert(id);
    };
    for (auto &[id, run] : state->runs)
      consider(id);
    for (auto &[id, o] : *observed)
      consider(id);
    if (orphans.empty())
      return fail("not-found", "no unit of environment `" + escapeControl(env) + "` is known to deployd");
    // Each unit's runtime binding, from the newest saved plan that has it.
    std::vector<std::unique_ptr<Plan>> plans;
    std::error_code ec;
    std::vector<std::filesystem::directory_entry> files;
    for (auto &f : std::filesystem::directory_iterator(ctx_.plansDir, ec))
      files.push_back(f);
    std::sort(files.begin(), files.end(), [](auto &a, auto &b) { return a.last_write_time() > b.last_write_time(); });
    std::vector<const PlanUnit *> units;
    std::set<std::string> found;
    for (auto &f : files) {
      if (found.size() == orphans.size())
        break;
      auto p = loadPlanFile(f.path().string());
      if (!p) {
        llvm::consumeError(p.takeError());
        continue;
      }
      plans.push_back(std::make_unique<Plan>(std::move(*p)));
      for (const std::string &id : orphans)
        if (const PlanUnit *u = plans.back()->unit(id); u && found.insert(id).second)
          units.push_back(u);
    }
    if (found.size() != orphans.size()) {
      std::vector<std::string> missing;
      for (auto &id : orphans)
        if (!found.count(id))
          missing.push_back(id);
      return fail("failed", "no saved plan says how " + llvm::join(missing, ", ") + " ran (in " + ctx_.plansDir +
                                "); stop them by hand, nothing was changed");
    }
    size_t failed = ctx_.stopUnits ? ctx_.stopUnits(units) : units.size();
    if (failed)
      return fail("failed", std::to_string(failed) + " of " + std::to_string(units.size()) +
                                " workloads of `" + env + "` could not be stopped (deployd's log says why); nothing was forgotten");
    std::vector<std::string> ids(found.begin(), found.end());
    int64_t now = ctx_.now();
    if (llvm::Error e = ctx_.store.forgetUnits(ids, now))
      return e;
    std::vector<Transition> journal;
    for (auto &id : ids)
      journal.push_back({id, "-", "orphaned", "pruned", "workload stopped by " + caller_.identity + "; forgotten"});
    if (llvm::Error e = ctx_.store.appendJournal(journal, now))
      return e;
    Array out;
    for (auto &id : ids)
      out.push_back(id);
    return Object{{"environment", env}, {"units", std::move(out)}};
  }

  llvm::Expected<Value> history() {
    std::string filter = str("unit");
    if (!filter.empty() && filter.find('@') != std::string::npos) {
      Failure f;
      auto state = ctx_.store.loadState();
      bool orphan = state && state->runs.count(filter); // a unit a plan change removed
      if (!state)
        llvm::consumeError(state.takeError());
      if (!orphan && !unit(filter, f))
        return fail(f);
    } else if (!filter.empty()) {
      if (std::string why = unknownService(filter); !why.empty())
        return fail("not-found", why + " (or give a unit as SERVICE@ENV)");
    }
    auto entries = historyEntries(ctx_.store, filter);
    if (!entries)
      return entries.takeError();
    return Object{{"entries", std::move(*entries)}};
  }

  llvm::Expected<Value> fail(const std::string &code, const std::string &message) {
    failure_ = {code, message};
    return Value(nullptr);
  }
  llvm::Expected<Value> fail(const Failure &f) { return fail(f.code, f.message); }
  const Failure &failure() const { return failure_; }

private:
  ApiContext &ctx_;
  const Object &p_;
  const Caller &caller_;
  Failure failure_;
};

struct Method {
  const char *name;
  bool admin, changes;
  llvm::Expected<Value> (*run)(Handlers &h, ApiContext &ctx);
};

const Method kMethods[] = {
    {"whoami", false, false, [](Handlers &, ApiContext &) -> llvm::Expected<Value> { return Object{}; }},
    {"release", false, true, [](Handlers &h, ApiContext &) { return h.release(); }},
    {"approve", false, true, [](Handlers &h, ApiContext &) { return h.approve(); }},
    {"resource", false, true, [](Handlers &h, ApiContext &) { return h.resource(); }},
    {"rollback", false, true, [](Handlers &h, ApiContext &) { return h.pin(true); }},
    {"resume", false, true, [](Handlers &h, ApiContext &) { return h.pin(false); }},
    {"status", false, false,
     [](Handlers &, ApiContext &ctx) -> llvm::Expected<Value> {
       Object snap = statusSnapshot(ctx.store, &ctx.plan);
       snap["daemon"] = Object{{"now_ms", ctx.now()}, {"plan_hash", ctx.plan.hash}, {"plan", ctx.planPath},
                               {"idle", ctx.idle && *ctx.idle}};
       return snap;
     }},
    {"history", false, false, [](Handlers &h, ApiContext &) { return h.history(); }},
    {"idle", false, false,
     [](Handlers &, ApiContext &ctx) -> llvm::Expected<Value> {
       return Object{{"idle", ctx.idle && *ctx.idle}, {"now_ms", ctx.now()}};
     }},
    {"prune", true, true, [](Handlers &h, ApiContext &) { return h.prune(); }},
    {"token.create", true, false, [](Handlers &h, ApiContext &) { return h.tokenCreate(); }},
    {"token.list", true, false, [](Handlers &h, ApiContext &) { return h.tokenList(); }},
    {"token.revoke", true, false, [](Handlers &h, ApiContext &) { return h.tokenRevoke(); }},
};

} // namespace

llvm::json::Value handleControlRequest(ApiContext &ctx, const Object &request, const Peer &peer) {
  std::string method = request.getString("method").getValueOr("").str();
  const Object *params = request.getObject("params");
  Object empty;
  if (!params)
    params = &empty;
  // Who: a token an admin created, else the kernel's word for the peer.
  Caller caller;
  if (auto token = request.getString("token")) {
    auto found = ctx.store.findToken(tokenHash(*token));
    if (!found)
      return error("failed", llvm::toString(found.takeError()));
    if (!*found)
      return error("unauthenticated", "unknown or revoked token");
    caller.identity = (*found)->identity;
    caller.viaToken = true;
  } else {
    auto id = identityOfUid(peer.uid, ctx.identities);
    if (!id)
      return error("unauthenticated", "uid " + std::to_string(peer.uid) +
                                          " has no user name deployd can turn into an identity; map it in deployd's "
                                          "config or use a token");
    caller.identity = *id;
    caller.admin = peer.uid == ctx.daemonUid || peer.uid == 0;
  }
  caller.admin |= std::find(ctx.identities.admins.begin(), ctx.identities.admins.end(), caller.identity) !=
                  ctx.identities.admins.end();
  for (const Method &m : kMethods) {
    if (method != m.name)
      continue;
    if (m.admin && !caller.admin)
      return error("forbidden", caller.identity + " may not call `" + method +
                                    "`: it is for admins (deployd's own user, root, or `admins` in deployd's config)");
    Handlers h(ctx, *params, caller);
    auto result = m.run(h, ctx);
    if (!result)
      return error("failed", llvm::toString(result.takeError()));
    if (!h.failure().code.empty())
      return error(h.failure().code, h.failure().message);
    if (m.changes && ctx.changed)
      ctx.changed();
    Object out{{"result", std::move(*result)}};
    out["caller"] = Object{{"identity", caller.identity}, {"via", caller.viaToken ? "token" : "unix-peer"},
                           {"admin", caller.admin}};
    return out;
  }
  return error("invalid", "unknown method `" + escapeControl(method) + "`");
}

llvm::Expected<llvm::json::Array> historyEntries(Store &store, const std::string &filter) {
  bool isService = !filter.empty() && filter.find('@') == std::string::npos;
  auto entries = store.history(isService ? "" : filter);
  if (!entries)
    return entries.takeError();
  Array out;
  for (auto &e : *entries) {
    const Transition &t = e.transition;
    if (isService && t.unit != filter && llvm::StringRef(t.unit).split('@').first != filter)
      continue;
    out.push_back(Object{{"id", e.id}, {"at_ms", e.atMs}, {"unit", t.unit}, {"release", t.release},
                         {"from", t.from}, {"to", t.to}, {"why", t.why}});
  }
  return out;
}

llvm::json::Object statusSnapshot(Store &store, const Plan *plan) {
  Object out;
  auto state = store.loadState();
  auto observed = store.observations();
  if (!state || !observed) {
    std::string why = !state ? llvm::toString(state.takeError()) : llvm::toString(observed.takeError());
    out["error"] = why;
    return out;
  }
  std::vector<std::string> units;
  std::set<std::string> seen;
  auto add = [&](const std::string &u) {
    if (seen.insert(u).second)
      units.push_back(u);
  };
  if (plan) {
    // Rollout order: environment depth along `after`, then environment, then service.
    std::map<std::string, int> depth;
    std::function<int(const std::string &, int)> depthOf = [&](const std::string &env, int guard) -> int {
      if (auto it = depth.find(env); it != depth.end())
        return it->second;
      int d = 0;
      for (auto &e : plan->environments)
        if (e.name == env && guard < 64)
          for (auto &up : e.after)
            d = std::max(d, depthOf(up, guard + 1) + 1);
      return depth[env] = d;
    };
    std::vector<const PlanUnit *> order;
    for (auto &u : plan->units)
      order.push_back(&u);
    std::stable_sort(order.begin(), order.end(), [&](const PlanUnit *a, const PlanUnit *b) {
      return std::make_tuple(depthOf(a->environment, 0), a->environment, a->service) <
             std::make_tuple(depthOf(b->environment, 0), b->environment, b->service);
    });
    for (auto *u : order)
      add(u->id);
  }
  for (auto &[unit, run] : state->runs)
    add(unit);
  for (auto &[unit, o] : *observed)
    add(unit);
  Array rows;
  int64_t lastObserved = -1;
  for (auto &[unit, o] : *observed)
    lastObserved = std::max(lastObserved, o.atMs);
  for (const std::string &unit : units) {
    Object row{{"unit", unit}};
    if (plan && !plan->unit(unit))
      row["orphaned"] = true; // its environment or service left the plan
    if (auto o = observed->find(unit); o != observed->end()) {
      const UnitObservation &ob = o->second.observation;
      row["reachable"] = ob.reachable;
      row["actual"] = ob.version;
      row["health"] = ob.health == Health::Healthy ? "healthy" : ob.health == Health::Unhealthy ? "unhealthy" : "unknown";
      row["observed_at_ms"] = o->second.atMs;
    }
    if (auto r = state->runs.find(unit); r != state->runs.end()) {
      const UnitRun &run = r->second;
      bool back = run.phase == RunPhase::RolledBack || run.phase == RunPhase::RollingBack ||
                  run.phase == RunPhase::RollbackFailed;
      row["release"] = run.release;
      row["desired"] = back ? run.previousVersion : run.version;
      row["state"] = phaseName(run.phase);
      row["since_ms"] = run.enteredAtMs;
      row["waiting"] = run.waitingOn;
      if (run.disconnectedSinceMs >= 0)
        row["disconnected_since_ms"] = run.disconnectedSinceMs;
      if (auto p = state->pinned.find(unit); p != state->pinned.end())
        row["pinned_by"] = p->second;
    }
    rows.push_back(std::move(row));
  }
  out["units"] = std::move(rows);
  out["last_observed_ms"] = lastObserved;
  out["plan_hash"] = state->planHash;
  return out;
}

} // namespace dpl::runtime
