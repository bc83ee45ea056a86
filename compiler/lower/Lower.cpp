// Lowering to the plan: environments, groups, services and one state
// machine per unit, with provenance.
#include "compiler/lower/Lower.h"

#include "common/CanonicalJson.h"

#include <llvm/Support/Casting.h>

#include <cassert>

namespace dpl {

using llvm::json::Array;
using llvm::json::Object;

llvm::json::Value toPlanJson(const Value &v) {
  using K = Value::Kind;
  switch (v.kind) {
  case K::Null: return nullptr;
  case K::Bool: return v.b;
  case K::Int: return v.i;
  case K::Float: return v.f;
  case K::String: case K::Name: return v.s;
  case K::Duration:
    if (v.i % 1000 == 0)
      return v.i / 1000;
    return double(v.i) / 1000.0;
  case K::Percent: return v.f / 100.0;
  case K::Time: {
    char buf[8];
    snprintf(buf, sizeof buf, "%02d:%02d", int(v.i / 60), int(v.i % 60));
    return std::string(buf);
  }
  case K::List: {
    Array a;
    a.reserve(v.items.size());
    for (auto &x : v.items)
      a.push_back(toPlanJson(x));
    return a;
  }
  case K::Map: {
    Object o;
    for (auto &[k, x] : v.fields)
      o[k] = toPlanJson(x);
    return o;
  }
  case K::Record: {
    Object o{{"kind", v.s}};
    for (auto &[k, x] : v.fields)
      o[k] = toPlanJson(x);
    return o;
  }
  }
  return nullptr;
}

namespace {

/// An object from key/value pairs with the values moved in: an initializer
/// list (`Object{{"k", v}}`) copies every value, nested objects included.
void put(Object &) {}
template <typename V, typename... Rest> void put(Object &o, const char *key, V &&value, Rest &&...rest) {
  o.try_emplace(key, std::forward<V>(value));
  put(o, std::forward<Rest>(rest)...);
}
template <typename... KV> Object obj(KV &&...kv) {
  Object o;
  put(o, std::forward<KV>(kv)...);
  return o;
}

llvm::json::Value provenanceJson(const Provenance &p) {
  if (p.file.empty())
    return obj("source", "stdlib");
  return obj("file", p.file, "line", p.line, "column", p.column, "stakeholder", p.stakeholder, "block", p.block);
}

Object guardParams(const ResolvedGuard &g) {
  Object params;
  for (auto &[name, v] : g.args)
    params[name] = toPlanJson(v);
  return params;
}

/// The unit's state machine: wait → gates (declared order) → apply →
/// verification (health, then verify guards) → succeeded; failures of apply
/// and verification go to rollback or halt per `on_failure`.
Array stateMachine(const Unit &u) {
  const ResolvedField *onFailure = u.field("on_failure");
  bool rollback = !onFailure || onFailure->value.s != "halt";
  std::string failTo = rollback ? "rollback" : "halted";
  auto seconds = [&](const char *field) -> llvm::json::Value {
    const ResolvedField *f = u.field(field);
    return f ? toPlanJson(f->value) : llvm::json::Value(nullptr);
  };
  struct Step {
    Object state;
    bool canFail;
  };
  // Reserved: json::Object and json::Value have no noexcept move, so a
  // growing vector of them copies every element, nested values included.
  std::vector<Step> steps;
  steps.reserve(u.guards.size() + 3);
  Array waits;
  waits.reserve(u.waitsFor.size());
  for (auto &w : u.waitsFor)
    waits.push_back(w);
  steps.push_back({obj("kind", "wait", "waits_for", std::move(waits)), false});
  unsigned n = 0;
  for (const ResolvedGuard &g : u.guards)
    if (g.phase == GuardPhase::Gate)
      steps.push_back({obj("kind", "gate", "guard", g.kind, "params", guardParams(g), "name",
                           "gate-" + std::to_string(++n) + "-" + g.kind),
                       false});
  steps.push_back({obj("kind", "apply", "timeout_seconds", seconds("apply_timeout")), true});
  n = 0;
  if (const ResolvedField *h = u.field("health"); h && !h->value.isNull())
    steps.push_back({obj("kind", "verify", "guard", "health", "params", toPlanJson(h->value), "name",
                         "verify-" + std::to_string(++n) + "-health"),
                     true});
  for (const ResolvedGuard &g : u.guards)
    if (g.phase == GuardPhase::Verify)
      steps.push_back({obj("kind", "verify", "guard", g.kind, "params", guardParams(g), "name",
                           "verify-" + std::to_string(++n) + "-" + g.kind),
                       true});
  // Unnamed steps (wait, apply) are named after their kind.
  for (Step &st : steps)
    if (!st.state.getString("name"))
      st.state["name"] = std::string(*st.state.getString("kind"));
  Array states;
  states.reserve(steps.size() + 3);
  for (size_t i = 0; i < steps.size(); ++i) {
    std::string next = i + 1 < steps.size() ? std::string(*steps[i + 1].state.getString("name")) : "succeeded";
    Object s = std::move(steps[i].state);
    s["next"] = next;
    if (steps[i].canFail)
      s["on_failure"] = failTo;
    states.push_back(std::move(s));
  }
  states.push_back(obj("name", "succeeded", "kind", "success"));
  if (rollback) {
    states.push_back(obj("name", "rollback", "kind", "rollback", "timeout_seconds", seconds("rollback_timeout"),
                         "next", "rolled_back", "on_failure", "rollback_failed"));
    states.push_back(obj("name", "rolled_back", "kind", "failed", "blocks_downstream", true));
    states.push_back(obj("name", "rollback_failed", "kind", "failed", "blocks_downstream", true, "notify", true));
  } else {
    states.push_back(obj("name", "halted", "kind", "failed", "blocks_downstream", true, "awaits_person", true));
  }
  return states;
}

} // namespace

namespace {

/// Every member of the plan but "units" and "hash".
Object planHeader(const Model &model, const std::map<std::string, Value> &mergedEnvironments) {
  Array environments;
  for (auto &[name, self] : mergedEnvironments) {
    Object env;
    env.try_emplace("name", name);
    for (auto &[k, v] : self.fields)
      if (k != "name")
        env.try_emplace(k, toPlanJson(v));
    environments.push_back(std::move(env));
  }
  Array groups;
  std::vector<const GroupInfo *> sortedGroups;
  for (auto &g : model.groups)
    sortedGroups.push_back(&g);
  std::sort(sortedGroups.begin(), sortedGroups.end(),
            [](auto *a, auto *b) { return a->decl->name.text < b->decl->name.text; });
  for (const GroupInfo *g : sortedGroups) {
    Array members;
    if (auto *l = llvm::dyn_cast_or_null<ast::ListExpr>(g->decl->value))
      for (const ast::Expr *m : l->elements)
        if (auto *s = llvm::dyn_cast<ast::StringExpr>(m))
          members.push_back(s->value);
    Object group;
    group.try_emplace("name", g->decl->name.text);
    group.try_emplace("members", std::move(members));
    group.try_emplace("owner", g->owner ? g->owner->name : "");
    groups.push_back(std::move(group));
  }
  Array services;
  std::vector<const ServiceInfo *> sortedServices;
  for (auto &s : model.services)
    sortedServices.push_back(&s);
  std::sort(sortedServices.begin(), sortedServices.end(),
            [](auto *a, auto *b) { return a->decl->name.text < b->decl->name.text; });
  for (const ServiceInfo *s : sortedServices) {
    Array deps;
    for (auto &d : s->dependsOn)
      deps.push_back(d);
    Object service;
    service.try_emplace("name", s->decl->name.text);
    service.try_emplace("owner", s->owner ? s->owner->name : "");
    service.try_emplace("file", s->file ? s->file->relPath : "");
    service.try_emplace("depends_on", std::move(deps));
    services.push_back(std::move(service));
  }
  Object plan;
  plan.try_emplace("schema", kPlanSchema);
  plan.try_emplace("environments", std::move(environments));
  plan.try_emplace("groups", std::move(groups));
  plan.try_emplace("services", std::move(services));
  return plan;
}

/// The runtime of each environment, for units whose service has none.
std::map<std::string, Value> environmentRuntimes(const std::map<std::string, Value> &mergedEnvironments) {
  std::map<std::string, Value> out;
  for (auto &[name, self] : mergedEnvironments)
    if (const Value *rt = self.field("runtime"))
      out[name] = *rt;
  return out;
}

/// One element of the plan's "units".
llvm::json::Value lowerUnit(const Unit &u, const std::map<std::string, Value> &envRuntime) {
  Object config, provenance;
  for (const ResolvedField &f : u.fields) {
    if (f.name == "runtime")
      continue; // lowered into the binding below
    config.try_emplace(f.name, toPlanJson(f.value));
    Array overrides;
    overrides.reserve(f.overridden.size());
    for (const Candidate &c : f.overridden) {
      Object o;
      o.try_emplace("value", toPlanJson(c.value));
      o.try_emplace("rank", rankName(c.rank));
      o.try_emplace("from", provenanceJson(c.where));
      overrides.push_back(std::move(o));
    }
    Array satisfies;
    satisfies.reserve(f.constraints.size());
    for (auto &c : f.constraints)
      satisfies.push_back(c);
    Object p;
    p.try_emplace("rank", rankName(f.rank));
    p.try_emplace("from", provenanceJson(f.where));
    p.try_emplace("overrides", std::move(overrides));
    p.try_emplace("satisfies", std::move(satisfies));
    provenance.try_emplace(f.name, std::move(p));
  }
  // Runtime binding: the service's own runtime, else the environment's.
  llvm::json::Value runtime = nullptr;
  if (const ResolvedField *own = u.field("runtime"); own && !own->value.isNull())
    runtime = toPlanJson(own->value);
  else if (auto it = envRuntime.find(u.environment); it != envRuntime.end())
    runtime = toPlanJson(it->second);
  Array guards;
  guards.reserve(u.guards.size());
  for (const ResolvedGuard &g : u.guards) {
    Array by;
    by.reserve(g.requiredBy.size());
    for (auto &p : g.requiredBy)
      by.push_back(provenanceJson(p));
    Object o;
    o.try_emplace("guard", g.kind);
    o.try_emplace("required_by", std::move(by));
    o.try_emplace("merged", g.merged);
    guards.push_back(std::move(o));
  }
  Array constraints;
  constraints.reserve(u.constraints.size());
  for (const ConstraintResult &c : u.constraints) {
    Object o;
    o.try_emplace("constraint", c.text);
    o.try_emplace("rule", c.rule);
    o.try_emplace("result", c.applicable ? "holds" : "not-applicable");
    o.try_emplace("from", provenanceJson(c.where));
    constraints.push_back(std::move(o));
  }
  provenance.try_emplace("guards", std::move(guards));
  provenance.try_emplace("constraints", std::move(constraints));
  Array waits;
  waits.reserve(u.waitsFor.size());
  for (auto &w : u.waitsFor)
    waits.push_back(w);
  Object unit;
  unit.try_emplace("id", u.service + "@" + u.environment);
  unit.try_emplace("service", u.service);
  unit.try_emplace("environment", u.environment);
  unit.try_emplace("config", std::move(config));
  unit.try_emplace("runtime", std::move(runtime));
  unit.try_emplace("waits_for", std::move(waits));
  unit.try_emplace("states", stateMachine(u));
  unit.try_emplace("provenance", std::move(provenance));
  return unit;
}

/// Where the hash goes in the pretty header: a placeholder of the hash's
/// exact length ("sha256:" and 64 hex digits), overwritten by finish().
const std::string kHashPlaceholder = "sha256:" + std::string(64, '0');

} // namespace

llvm::json::Value lowerPlan(const Model &model, const MergeResult &merged) {
  Object plan = planHeader(model, merged.environments);
  std::map<std::string, Value> envRuntime = environmentRuntimes(merged.environments);
  Array units;
  for (const Unit &u : merged.units)
    units.push_back(lowerUnit(u, envRuntime));
  plan.try_emplace("units", std::move(units));
  llvm::json::Value withoutHash(std::move(plan));
  std::string hash = sha256Of(withoutHash);
  withoutHash.getAsObject()->insert({"hash", hash});
  return withoutHash;
}

void PlanStreamWriter::begin(const Model &model, const std::map<std::string, Value> &environments) {
  assert(!begun_ && "begin() is called once");
  begun_ = true;
  envRuntime_ = environmentRuntimes(environments);
  llvm::json::Value header = planHeader(model, environments);
  // Canonical form, hashed: {…,"services":[…],"units":[u1,u2,…]}. "units"
  // sorts last, so the header's own canonical text without its closing
  // brace is the hash's prefix.
  std::string text = canonicalJson(header);
  text.pop_back();
  text += ",\"units\":[";
  hasher_.update(text);
  // Pretty form, written: "hash" sorts between "groups" and "schema", so
  // a placeholder of the same length stands in until finish().
  header.getAsObject()->try_emplace("hash", kHashPlaceholder);
  text = prettyJson(header);
  static const std::string hashKey = "\n  \"hash\": \"";
  size_t at = text.find(hashKey);
  assert(at != std::string::npos);
  hashOffset_ = os_.tell() + at + hashKey.size();
  text.resize(text.size() - 3); // "\n}\n"
  text += ",\n  \"units\": [";
  os_ << text;
}

void PlanStreamWriter::unit(Unit &&u) {
  llvm::json::Value v = lowerUnit(u, envRuntime_);
  // The canonical form is hashed; the pretty form, written, is the same text
  // re-indented (cheaper than walking and sorting the value a second time).
  canonical_.assign(units_ ? "," : "");
  appendJson(canonical_, v, /*pretty=*/false, 0);
  hasher_.update(canonical_);
  buf_.assign(units_ ? ",\n    " : "\n    ");
  appendIndented(buf_, llvm::StringRef(canonical_).drop_front(units_ ? 1 : 0), /*depth=*/2);
  os_ << buf_;
  ++units_;
}

std::string PlanStreamWriter::finish() {
  assert(begun_ && !finished_);
  finished_ = true;
  os_ << (units_ ? "\n  ]" : "]") << "\n}\n";
  hasher_.update("]}");
  std::array<uint8_t, 32> digest;
  llvm::StringRef raw = hasher_.final();
  std::copy(raw.bytes_begin(), raw.bytes_end(), digest.begin());
  std::string hash = sha256Text(digest);
  os_.pwrite(hash.data(), hash.size(), hashOffset_);
  return hash;
}

} // namespace dpl
