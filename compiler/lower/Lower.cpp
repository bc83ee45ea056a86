// Lowering to the plan: environments, groups, services and one state
// machine per unit, with provenance.
#include "compiler/lower/Lower.h"

#include "common/CanonicalJson.h"

#include <llvm/Support/Casting.h>

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

llvm::json::Value provenanceJson(const Provenance &p) {
  if (p.file.empty())
    return Object{{"source", "stdlib"}};
  return Object{{"file", p.file}, {"line", p.line}, {"column", p.column},
                {"stakeholder", p.stakeholder}, {"block", p.block}};
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
  std::vector<Step> steps;
  Array waits;
  for (auto &w : u.waitsFor)
    waits.push_back(w);
  steps.push_back({Object{{"kind", "wait"}, {"waits_for", std::move(waits)}}, false});
  unsigned n = 0;
  for (const ResolvedGuard &g : u.guards)
    if (g.phase == GuardPhase::Gate)
      steps.push_back({Object{{"kind", "gate"}, {"guard", g.kind}, {"params", guardParams(g)},
                              {"name", "gate-" + std::to_string(++n) + "-" + g.kind}},
                       false});
  steps.push_back({Object{{"kind", "apply"}, {"timeout_seconds", seconds("apply_timeout")}}, true});
  n = 0;
  if (const ResolvedField *h = u.field("health"); h && !h->value.isNull())
    steps.push_back({Object{{"kind", "verify"}, {"guard", "health"}, {"params", toPlanJson(h->value)},
                            {"name", "verify-" + std::to_string(++n) + "-health"}},
                     true});
  for (const ResolvedGuard &g : u.guards)
    if (g.phase == GuardPhase::Verify)
      steps.push_back({Object{{"kind", "verify"}, {"guard", g.kind}, {"params", guardParams(g)},
                              {"name", "verify-" + std::to_string(++n) + "-" + g.kind}},
                       true});
  // Unnamed steps (wait, apply) are named after their kind.
  for (Step &st : steps)
    if (!st.state.getString("name"))
      st.state["name"] = std::string(*st.state.getString("kind"));
  Array states;
  for (size_t i = 0; i < steps.size(); ++i) {
    std::string next = i + 1 < steps.size() ? std::string(*steps[i + 1].state.getString("name")) : "succeeded";
    Object s = std::move(steps[i].state);
    s["next"] = next;
    if (steps[i].canFail)
      s["on_failure"] = failTo;
    states.push_back(std::move(s));
  }
  states.push_back(Object{{"name", "succeeded"}, {"kind", "success"}});
  if (rollback) {
    states.push_back(Object{{"name", "rollback"},
                            {"kind", "rollback"},
                            {"timeout_seconds", seconds("rollback_timeout")},
                            {"next", "rolled_back"},
                            {"on_failure", "rollback_failed"}});
    states.push_back(Object{{"name", "rolled_back"}, {"kind", "failed"}, {"blocks_downstream", true}});
    states.push_back(Object{{"name", "rollback_failed"}, {"kind", "failed"}, {"blocks_downstream", true},
                            {"notify", true}});
  } else {
    states.push_back(Object{{"name", "halted"}, {"kind", "failed"}, {"blocks_downstream", true},
                            {"awaits_person", true}});
  }
  return states;
}

} // namespace

llvm::json::Value lowerPlan(const Model &model, const MergeResult &merged) {
  Array environments;
  std::map<std::string, Value> envRuntime;
  for (auto &[name, self] : merged.environments) {
    Object env{{"name", name}};
    for (auto &[k, v] : self.fields)
      if (k != "name")
        env[k] = toPlanJson(v);
    if (const Value *rt = self.field("runtime"))
      envRuntime[name] = *rt;
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
    groups.push_back(Object{{"name", g->decl->name.text}, {"members", std::move(members)},
                            {"owner", g->owner ? g->owner->name : ""}});
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
    services.push_back(Object{{"name", s->decl->name.text},
                              {"owner", s->owner ? s->owner->name : ""},
                              {"file", s->file ? s->file->relPath : ""},
                              {"depends_on", std::move(deps)}});
  }
  Array units;
  for (const Unit &u : merged.units) {
    Object config, provenance;
    for (const ResolvedField &f : u.fields) {
      if (f.name == "runtime")
        continue; // lowered into the binding below
      config[f.name] = toPlanJson(f.value);
      Array overrides;
      for (const Candidate &c : f.overridden)
        overrides.push_back(Object{{"value", toPlanJson(c.value)}, {"rank", rankName(c.rank)},
                                   {"from", provenanceJson(c.where)}});
      Array satisfies;
      for (auto &c : f.constraints)
        satisfies.push_back(c);
      provenance[f.name] = Object{{"rank", rankName(f.rank)},
                                  {"from", provenanceJson(f.where)},
                                  {"overrides", std::move(overrides)},
                                  {"satisfies", std::move(satisfies)}};
    }
    // Runtime binding: the service's own runtime, else the environment's.
    const ResolvedField *own = u.field("runtime");
    Value runtime = own && !own->value.isNull() ? own->value : envRuntime[u.environment];
    Array guards;
    for (const ResolvedGuard &g : u.guards) {
      Array by;
      for (auto &p : g.requiredBy)
        by.push_back(provenanceJson(p));
      guards.push_back(Object{{"guard", g.kind}, {"required_by", std::move(by)}, {"merged", g.merged}});
    }
    Array constraints;
    for (const ConstraintResult &c : u.constraints)
      constraints.push_back(Object{{"constraint", c.text}, {"rule", c.rule},
                                   {"result", c.applicable ? "holds" : "not-applicable"},
                                   {"from", provenanceJson(c.where)}});
    provenance["guards"] = std::move(guards);
    provenance["constraints"] = std::move(constraints);
    Array waits;
    for (auto &w : u.waitsFor)
      waits.push_back(w);
    units.push_back(Object{{"id", u.service + "@" + u.environment},
                           {"service", u.service},
                           {"environment", u.environment},
                           {"config", std::move(config)},
                           {"runtime", toPlanJson(runtime)},
                           {"waits_for", std::move(waits)},
                           {"states", stateMachine(u)},
                           {"provenance", std::move(provenance)}});
  }
  Object plan{{"schema", kPlanSchema},
              {"environments", std::move(environments)},
              {"groups", std::move(groups)},
              {"services", std::move(services)},
              {"units", std::move(units)}};
  llvm::json::Value withoutHash(std::move(plan));
  std::string hash = sha256Of(withoutHash);
  withoutHash.getAsObject()->insert({"hash", hash});
  return withoutHash;
}

} // namespace dpl
