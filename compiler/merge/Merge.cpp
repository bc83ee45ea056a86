// Merge phase: per-unit field resolution with provenance, guard union and
// deduplication, constraint checking.
#include "compiler/merge/Merge.h"

#include "compiler/merge/Eval.h"
#include "compiler/sema/Cycles.h"

#include <llvm/Support/Casting.h>

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>
#include <set>

namespace dpl {

using namespace ast;
using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

const char *rankName(Rank r) {
  switch (r) {
  case Rank::StdlibDefault: return "stdlib default";
  case Rank::Defaults: return "defaults";
  case Rank::Service: return "service value";
  case Rank::InPredicate: return "`in` predicate override";
  case Rank::InEnvironment: return "`in` environment override";
  }
  return "?";
}

const Unit *MergeResult::unit(llvm::StringRef service, llvm::StringRef env) const {
  for (auto &u : units)
    if (u.service == service && u.environment == env)
      return &u;
  return nullptr;
}

namespace {

/// Orders values of one type for `stricter = { p: max }` merges.
int compareValues(const Value &a, const Value &b) {
  auto num = [](const Value &v) {
    switch (v.kind) {
    case Value::Kind::Int: case Value::Kind::Duration: case Value::Kind::Time: return double(v.i);
    case Value::Kind::Float: case Value::Kind::Percent: return v.f;
    default: return 0.0;
    }
  };
  double x = num(a), y = num(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

class Merger {
public:
  Merger(const Model &model, DiagnosticEngine &diags)
      : model_(model), std_(*model.stdlib), diags_(diags), eval_(std_),
        serviceSchema_(std_.schema("service")), envSchema_(std_.schema("environment")) {}

  MergeResult run() {
    MergeResult out;
    if (!serviceSchema_ || !envSchema_)
      return out;
    buildEnvironments();
    // Units in a stable order: services by name, then environments by name.
    std::vector<const ServiceInfo *> services;
    for (auto &s : model_.services)
      services.push_back(&s);
    std::sort(services.begin(), services.end(),
              [](auto *a, auto *b) { return a->decl->name.text < b->decl->name.text; });
    std::vector<const EnvironmentInfo *> envs;
    for (auto &e : model_.environments)
      envs.push_back(&e);
    std::sort(envs.begin(), envs.end(),
              [](auto *a, auto *b) { return a->decl->name.text < b->decl->name.text; });
    for (const ServiceInfo *s : services) {
      Value base = serviceBase(*s);
      for (const EnvironmentInfo *e : envs)
        out.units.push_back(mergeUnit(*s, base, *e));
    }
    checkDependencyCycles(out);
    out.environments = envValues_;
    return out;
  }

private:
  // ----------------------------------------------------------- provenance
  Provenance provenance(const Owned &owned, llvm::SMRange range, std::string block) const {
    Provenance p;
    p.file = owned.file ? owned.file->relPath : "";
    p.stakeholder = owned.owner ? owned.owner->name : "";
    p.block = std::move(block);
    p.range = range;
    LineCol lc = diags_.sources().lineCol(range.Start);
    p.line = lc.line;
    p.column = lc.column;
    return p;
  }

  std::string sourceText(llvm::SMRange r) const {
    if (!r.Start.isValid() || !r.End.isValid() || r.End.getPointer() < r.Start.getPointer())
      return "";
    return std::string(r.Start.getPointer(), r.End.getPointer() - r.Start.getPointer());
  }

  // --------------------------------------------------------- environments
  void buildEnvironments() {
    for (auto &env : model_.environments) {
      Value v = recordOf(env.decl->name.text, "environment", *envSchema_, env.decl->body, nullptr);
      // Strings may name other environment fields: `".deploy/${env.name}"`.
      EvalScope scope{&v, nullptr, PredScope::Environment};
      envValues_[env.decl->name.text] = recordOf(env.decl->name.text, "environment", *envSchema_,
                                                 env.decl->body, &scope);
    }
  }

  Value recordOf(const std::string &name, const char *kind, const RecordSig &schema,
                 const std::vector<Stmt *> &body, const EvalScope *subst) const {
    Value v;
    v.kind = Value::Kind::Record;
    v.s = kind;
    v.fields.push_back({"name", Value::string(name)});
    for (const FieldSig &f : schema.fields) {
      const Expr *e = f.defaultValue;
      for (const Stmt *s : body)
        if (auto *fs = dyn_cast<FieldStmt>(s); fs && fs->name.text == f.name)
          e = fs->value;
      v.fields.push_back({f.name, e ? eval_.valueOf(e, f.type, subst) : Value::null()});
    }
    return v;
  }

  /// The service as `when` conditions see it: its own values over
  /// `defaults` over stdlib defaults (no environment overrides).
  Value serviceBase(const ServiceInfo &svc) const {
    Value v;
    v.kind = Value::Kind::Record;
    v.s = "service";
    v.fields.push_back({"name", Value::string(svc.decl->name.text)});
    for (const FieldSig &f : serviceSchema_->fields) {
      const Expr *e = f.defaultValue;
      for (auto &d : model_.defaults)
        for (const Stmt *s : d.decl->body)
          if (auto *fs = dyn_cast<FieldStmt>(s); fs && fs->name.text == f.name)
            e = fs->value;
      for (const Stmt *s : svc.decl->body)
        if (auto *fs = dyn_cast<FieldStmt>(s); fs && fs->name.text == f.name)
          e = fs->value;
      v.fields.push_back({f.name, e ? eval_.valueOf(e, f.type) : Value::null()});
    }
    return v;
  }

  // ------------------------------------------------------------------ unit
  /// An `in` block that applies to the unit, with its rank.
  struct AppliedBlock {
    const InStmt *in;
    Rank rank;
    std::string label;
  };

  std::vector<AppliedBlock> appliedBlocks(const ServiceInfo &svc, const Value &env, const Value &base) const {
    std::vector<AppliedBlock> out;
    const std::string &envName = env.field("name")->s;
    EvalScope scope{&env, &base, PredScope::Environment};
    for (const Stmt *s : svc.decl->body) {
      auto *in = dyn_cast<InStmt>(s);
      if (!in || !in->predicate)
        continue;
      std::string label = "service " + svc.decl->name.text + ", in " + sourceText(in->predicate->range);
      if (auto *n = dyn_cast<NameExpr>(in->predicate); n && model_.environment(n->name)) {
        if (n->name == envName)
          out.push_back({in, Rank::InEnvironment, label});
        continue;
      }
      Value r = eval_.eval(in->predicate, scope);
      if (r.kind == Value::Kind::Bool && r.b)
        out.push_back({in, Rank::InPredicate, label});
    }
    return out;
  }

  Unit mergeUnit(const ServiceInfo &svc, const Value &base, const EnvironmentInfo &envInfo) {
    const std::string &envName = envInfo.decl->name.text;
    const Value &env = envValues_[envName];
    Unit unit;
    unit.service = svc.decl->name.text;
    unit.environment = envName;
    std::string unitName = unit.service + "@" + envName;
    std::vector<AppliedBlock> blocks = appliedBlocks(svc, env, base);
    // `${env.name}`, `${service.name}` and environment fields are known now.
    EvalScope subst{&env, &base, PredScope::Rule};

    // Fields.
    Value final;
    final.kind = Value::Kind::Record;
    final.s = "service";
    final.fields.push_back({"name", Value::string(unit.service)});
    for (const FieldSig &f : serviceSchema_->fields) {
      std::vector<Candidate> cands;
      if (f.defaultValue) {
        Provenance p;
        p.block = "stdlib";
        cands.push_back({eval_.valueOf(f.defaultValue, f.type, &subst), Rank::StdlibDefault, p});
      }
      for (auto &d : model_.defaults)
        for (const Stmt *s : d.decl->body)
          if (auto *fs = dyn_cast<FieldStmt>(s); fs && fs->name.text == f.name)
            cands.push_back({eval_.valueOf(fs->value, f.type, &subst), Rank::Defaults,
                             provenance(d, fs->value->range, "defaults")});
      for (const Stmt *s : svc.decl->body)
        if (auto *fs = dyn_cast<FieldStmt>(s); fs && fs->name.text == f.name)
          cands.push_back({eval_.valueOf(fs->value, f.type, &subst), Rank::Service,
                           provenance(svc, fs->value->range, "service " + unit.service)});
      for (const AppliedBlock &b : blocks)
        for (const Stmt *s : b.in->body)
          if (auto *fs = dyn_cast<FieldStmt>(s); fs && fs->name.text == f.name)
            cands.push_back({eval_.valueOf(fs->value, f.type, &subst), b.rank, provenance(svc, fs->value->range, b.label)});
      ResolvedField rf;
      rf.name = f.name;
      if (!cands.empty()) {
        // Strongest rank wins; stable order keeps source order within a rank.
        std::stable_sort(cands.begin(), cands.end(),
                         [](const Candidate &a, const Candidate &b) { return a.rank > b.rank; });
        checkConflict(f.name, cands, unitName, svc);
        rf.value = cands[0].value;
        rf.rank = cands[0].rank;
        rf.where = cands[0].where;
        rf.overridden.assign(cands.begin() + 1, cands.end());
      }
      final.fields.push_back({f.name, rf.value});
      unit.fields.push_back(std::move(rf));
    }

    // Guards: the service's, its applicable `in` blocks', applicable rules'.
    std::vector<std::pair<const RequireStmt *, Provenance>> requests;
    for (const Stmt *s : svc.decl->body)
      if (auto *r = dyn_cast<RequireStmt>(s))
        requests.push_back({r, provenance(svc, r->range, "service " + unit.service)});
    for (const AppliedBlock &b : blocks)
      for (const Stmt *s : b.in->body)
        if (auto *r = dyn_cast<RequireStmt>(s))
          requests.push_back({r, provenance(svc, r->range, b.label)});
    EvalScope ruleScope{&env, &base, PredScope::Rule};
    std::vector<const RuleInfo *> rules;
    for (const RuleInfo *rulePtr : candidateRules(unit.service)) {
      const RuleInfo &rule = *rulePtr;
      if (rule.when) {
        Value w = eval_.eval(rule.when, ruleScope);
        if (w.kind != Value::Kind::Bool || !w.b)
          continue;
      }
      rules.push_back(&rule);
      for (const Stmt *s : rule.decl->body)
        if (auto *r = dyn_cast<RequireStmt>(s))
          requests.push_back({r, provenance(rule, r->range, "rule " + rule.decl->name.text)});
    }
    mergeGuards(unit, requests, subst);

    // Constraints over the final values.
    EvalScope finalScope{&env, &final, PredScope::Unit};
    for (const RuleInfo *rule : rules)
      for (const Stmt *s : rule->decl->body) {
        auto *c = dyn_cast<ConstrainStmt>(s);
        if (!c || !c->predicate || isa<ErrorExpr>(c->predicate))
          continue;
        ConstraintResult cr;
        cr.expr = c->predicate;
        cr.text = sourceText(c->predicate->range);
        cr.rule = rule->decl->name.text;
        cr.where = provenance(*rule, c->range, "rule " + cr.rule);
        Value r = eval_.eval(c->predicate, finalScope);
        cr.applicable = !r.isNull();
        cr.holds = r.isNull() || (r.kind == Value::Kind::Bool && r.b);
        std::string fieldName = constrainedField(c->predicate);
        if (!cr.holds)
          reportViolation(unit, svc, fieldName, cr, unitName);
        else if (cr.applicable)
          for (auto &rf : unit.fields)
            if (rf.name == fieldName)
              rf.constraints.push_back(cr.text + " (rule " + cr.rule +
                                       (cr.where.stakeholder.empty() ? "" : "; " + cr.where.stakeholder) + ")");
        unit.constraints.push_back(std::move(cr));
      }

    // What the unit waits for: upstream environments, then dependencies.
    for (auto &a : envInfo.after)
      if (model_.environment(a))
        unit.waitsFor.push_back(unit.service + "@" + a);
    // depends_on as merged for this unit (an `in` block may change it).
    if (const ResolvedField *deps = unit.field("depends_on"))
      for (const Value &d : deps->value.items)
        if (model_.service(d.s))
          unit.waitsFor.push_back(d.s + "@" + envName);
    return unit;
  }

  // -------------------------------------------------------- merged cycles
  /// `depends_on` as merged per environment must stay acyclic: an `in`
  /// block can close a cycle that the service-level check (E501) cannot see.
  void checkDependencyCycles(const MergeResult &merged) {
    std::map<std::string, std::map<std::string, const ResolvedField *>> byEnv;
    for (const Unit &u : merged.units)
      byEnv[u.environment][u.service] = u.field("depends_on");
    std::set<std::set<std::string>> reported;
    for (auto &[env, deps] : byEnv) {
      CycleGraph g;
      for (auto &[svc, f] : deps) {
        auto &edges = g[svc];
        for (const Value &d : f ? f->value.items : std::vector<Value>{})
          edges.push_back({d.s, f->where.range});
      }
      forEachCycle(g, [&](const std::vector<std::string> &nodes, const std::vector<const CycleEdge *> &edges) {
        // One report per set of services, whichever environment shows it first.
        if (!reported.insert(std::set<std::string>(nodes.begin(), nodes.end())).second)
          return;
        std::string path;
        for (auto &n : nodes)
          path += "`" + n + "` → ";
        path += "`" + nodes.front() + "`";
        auto diag = diags_.report(DiagId::E501, edges.front()->at, path);
        for (size_t i = 0; i < nodes.size(); ++i)
          diag.note(edges[i]->at, DiagId::N005, nodes[i], "depends on",
                    (i + 1 < nodes.size() ? nodes[i + 1] : nodes.front()) + "` in environment `" + env);
      });
    }
  }

  // ------------------------------------------------------------- rule index
  /// A necessary condition on `service.name` found in a rule's `when`
  /// (one conjunct of a top-level `and`): exact names or a name prefix.
  struct NameFilter {
    bool any = true;
    std::vector<std::string> exact;
    std::string prefix;
    bool isPrefix = false;
  };

  static bool isServiceName(const Expr *e) {
    auto *m = llvm::dyn_cast_or_null<MemberExpr>(e);
    auto *root = m ? dyn_cast<NameExpr>(m->base) : nullptr;
    return root && root->name == "service" && m->member.text == "name";
  }

  static NameFilter nameFilter(const Expr *e) {
    NameFilter f;
    auto *b = llvm::dyn_cast_or_null<BinaryExpr>(e);
    if (!b)
      return f;
    if (b->op == BinaryOp::And) {
      NameFilter l = nameFilter(b->lhs);
      return l.any ? nameFilter(b->rhs) : l;
    }
    if (!isServiceName(b->lhs))
      return f;
    if (b->op == BinaryOp::Eq) {
      if (auto *str = dyn_cast<StringExpr>(b->rhs)) {
        f.any = false;
        f.exact.push_back(str->value);
      }
    } else if (b->op == BinaryOp::In) {
      auto *l = dyn_cast<ListExpr>(b->rhs);
      if (!l)
        return f;
      std::vector<std::string> names;
      for (const Expr *el : l->elements) {
        auto *str = dyn_cast<StringExpr>(el);
        if (!str)
          return f;
        names.push_back(str->value);
      }
      f.any = false;
      f.exact = std::move(names);
    } else if (b->op == BinaryOp::Matches) {
      auto *str = dyn_cast<StringExpr>(b->rhs);
      if (!str)
        return f;
      llvm::StringRef g(str->value);
      size_t special = g.find_first_of("*?[");
      if (special == llvm::StringRef::npos) {
        f.any = false;
        f.exact.push_back(g.str());
      } else if (special == g.size() - 1 && g.back() == '*') {
        f.any = false;
        f.isPrefix = true;
        f.prefix = g.drop_back().str();
      }
    }
    return f;
  }

  /// Builds the index once: rules that can only match certain service names
  /// are looked up by name or prefix instead of being evaluated for every
  /// unit (an organization with a rule per service stays linear).
  void buildRuleIndex() {
    if (indexed_)
      return;
    indexed_ = true;
    for (size_t i = 0; i < model_.rules.size(); ++i) {
      NameFilter f = nameFilter(model_.rules[i].when);
      if (f.any)
        unfiltered_.push_back(i);
      else if (f.isPrefix)
        byPrefix_[f.prefix].push_back(i);
      else
        for (auto &n : f.exact)
          byName_[n].push_back(i);
    }
  }

  /// Rules that may apply to `service`, in declaration order.
  std::vector<const RuleInfo *> candidateRules(const std::string &service) {
    buildRuleIndex();
    std::vector<size_t> ids = unfiltered_;
    if (auto it = byName_.find(service); it != byName_.end())
      ids.insert(ids.end(), it->second.begin(), it->second.end());
    for (size_t len = 0; len <= service.size(); ++len)
      if (auto it = byPrefix_.find(service.substr(0, len)); it != byPrefix_.end())
        ids.insert(ids.end(), it->second.begin(), it->second.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<const RuleInfo *> out;
    for (size_t i : ids)
      out.push_back(&model_.rules[i]);
    return out;
  }

  // -------------------------------------------------------------- conflicts
  void checkConflict(const std::string &field, const std::vector<Candidate> &cands,
                     const std::string &unitName, const ServiceInfo &svc) {
    Rank top = cands[0].rank;
    std::vector<const Candidate *> same;
    for (auto &c : cands)
      if (c.rank == top)
        same.push_back(&c);
    bool differ = false;
    for (auto *c : same)
      differ |= c->value != same[0]->value;
    if (!differ || top == Rank::StdlibDefault)
      return;
    // Report each distinct set of clashing locations once, not per unit.
    std::vector<const char *> key;
    for (auto *c : same)
      key.push_back(c->where.range.Start.getPointer());
    if (!reportedConflicts_.insert({field, key}).second)
      return;
    std::string list;
    for (size_t i = 0; i < same.size(); ++i) {
      list += (i ? (i + 1 == same.size() ? " and " : ", ") : "") + ("`" + toSource(same[i]->value) + "`");
      if (!same[i]->where.stakeholder.empty())
        list += " from `" + same[i]->where.stakeholder + "`";
    }
    // The error sits at the last value in source order; notes at the others.
    const Candidate *primary = same.back();
    // Nickel's three labels: each value with its stakeholder, and where they met.
    auto d = diags_.report(DiagId::E600, primary->where.range, field, unitName, rankName(top), list);
    for (auto *c : same)
      d.note(c->where.range, DiagId::N015, toSource(c->value), c->where.stakeholder.empty() ? "?" : c->where.stakeholder);
    d.note(svc.decl->name.range, DiagId::N019, unitName, svc.decl->name.text);
    d.hint(DiagId::N017, field);
  }

  /// The service field a constraint is about: its first bare name or
  /// `service.<field>`.
  std::string constrainedField(const Expr *e) const {
    if (!e)
      return "";
    if (auto *n = dyn_cast<NameExpr>(e))
      return serviceSchema_->field(n->name) ? n->name : "";
    if (auto *m = dyn_cast<MemberExpr>(e)) {
      if (auto *root = dyn_cast<NameExpr>(m->base); root && root->name == "service")
        return serviceSchema_->field(m->member.text) ? m->member.text : "";
      return constrainedField(m->base);
    }
    if (auto *b = dyn_cast<BinaryExpr>(e)) {
      std::string l = constrainedField(b->lhs);
      return l.empty() ? constrainedField(b->rhs) : l;
    }
    if (auto *u = dyn_cast<UnaryExpr>(e))
      return constrainedField(u->operand);
    return "";
  }

  void reportViolation(const Unit &unit, const ServiceInfo &svc, const std::string &fieldName,
                       const ConstraintResult &cr, const std::string &unitName) {
    const ResolvedField *rf = nullptr;
    for (auto &f : unit.fields)
      if (f.name == fieldName)
        rf = &f;
    llvm::SMRange at = rf && rf->where.range.Start.isValid() ? rf->where.range : svc.decl->name.range;
    if (!reportedViolations_.insert({at.Start.getPointer(), cr.expr}).second)
      return;
    std::string shown = rf ? toSource(rf->value) : "";
    if (rf && rf->value.kind == Value::Kind::Record && fieldName == "artifact" && rf->value.s == "image")
      if (const Value *ref = rf->value.field("ref"))
        shown = toSource(*ref);
    auto d = diags_.report(DiagId::E601, at, fieldName.empty() ? "the unit" : "`" + fieldName + "`",
                           shown.empty() ? "" : " = `" + shown + "`", unitName, cr.text);
    d.note(cr.where.range, DiagId::N016, cr.rule, cr.where.stakeholder.empty() ? "?" : cr.where.stakeholder);
    if (rf && rf->rank == Rank::StdlibDefault && rf->where.block == "stdlib")
      d.hint(DiagId::N018, fieldName);
  }

  // ----------------------------------------------------------------- guards
  void mergeGuards(Unit &unit, const std::vector<std::pair<const RequireStmt *, Provenance>> &requests,
                   const EvalScope &subst) {
    std::vector<ResolvedGuard> guards;
    std::vector<std::vector<Value>> keys;
    // Each request as written (args, stakeholder), per merged guard, so the
    // `merged` note credits every value to the stakeholder who wrote it.
    std::vector<std::vector<std::pair<std::string, std::string>>> asked;
    for (auto &[r, where] : requests) {
      const GuardSig *sig = r->guard.empty() ? nullptr : std_.guard(r->guard.text);
      if (!sig)
        continue;
      ResolvedGuard g;
      g.kind = sig->name;
      g.phase = sig->phase;
      // Parameters in declaration order, defaults filled in.
      for (size_t i = 0; i < sig->params.size(); ++i) {
        const FieldSig &p = sig->params[i];
        const Expr *e = p.defaultValue;
        size_t pos = 0;
        for (const Arg &a : r->args) {
          if (a.name.empty() ? pos++ == i : a.name.text == p.name)
            e = a.value;
        }
        g.args.push_back({p.name, e ? eval_.valueOf(e, p.type, &subst) : Value::null()});
      }
      g.requiredBy.push_back(where);
      // Identity: the merge key, or every argument.
      std::vector<Value> key{Value::string(g.kind)};
      for (auto &[name, v] : g.args)
        if (!sig->hasMergeKey ||
            std::find(sig->mergeKey.begin(), sig->mergeKey.end(), name) != sig->mergeKey.end())
          key.push_back(v);
      auto it = std::find(keys.begin(), keys.end(), key);
      if (it == keys.end()) {
        keys.push_back(key);
        asked.push_back({{describeArgs(g), where.stakeholder}});
        guards.push_back(std::move(g));
        continue;
      }
      size_t index = it - keys.begin();
      std::vector<std::pair<std::string, Value>> mergedArgs = guards[index].args;
      for (size_t i = 0; i < mergedArgs.size(); ++i) {
        auto op = sig->stricter.find(mergedArgs[i].first);
        if (op == sig->stricter.end())
          continue;
        Value &cur = mergedArgs[i].second;
        const Value &other = g.args[i].second;
        if (op->second == "intersect") {
          std::vector<Value> common;
          for (const Value &x : cur.items)
            if (std::find(other.items.begin(), other.items.end(), x) != other.items.end())
              common.push_back(x);
          cur.items = std::move(common);
        } else if (cur.isNull() || (!other.isNull() && (op->second == "max" ? compareValues(other, cur) > 0
                                                                             : compareValues(other, cur) < 0))) {
          cur = other;
        }
      }
      if (!orderedOk(*sig, guards[index].args) || !orderedOk(*sig, g.args) || !orderedOk(*sig, mergedArgs)) {
        // Not mergeable (e.g. a window across midnight): both guards hold.
        keys.push_back(key);
        keys.back().push_back(Value::integer(int64_t(keys.size())));
        asked.push_back({{describeArgs(g), where.stakeholder}});
        guards.push_back(std::move(g));
        continue;
      }
      ResolvedGuard &into = guards[index];
      into.args = std::move(mergedArgs);
      into.requiredBy.push_back(where);
      asked[index].push_back({describeArgs(g), where.stakeholder});
    }
    // Describe merges whose requests differed: "soak(duration = 30s) from
    // `shop`, soak(duration = 5m) from `platform` merged to the stricter
    // soak(duration = 5m)". Identical requests are listed in `requiredBy` only.
    for (size_t i = 0; i < guards.size(); ++i) {
      auto &list = asked[i];
      bool differ = false;
      for (auto &a : list)
        differ |= a.first != list[0].first;
      if (!differ)
        continue;
      std::string note;
      for (size_t j = 0; j < list.size(); ++j)
        note += (j ? (j + 1 == list.size() ? " and " : ", ") : "") + guards[i].kind + "(" + list[j].first +
                ") from `" + list[j].second + "`";
      guards[i].merged = note + " merged to the stricter " + guards[i].kind + "(" + describeArgs(guards[i]) + ")";
    }
    // Gates first, then verifications; otherwise in the order required.
    std::stable_partition(guards.begin(), guards.end(),
                          [](const ResolvedGuard &g) { return g.phase == GuardPhase::Gate; });
    unit.guards = std::move(guards);
  }

  /// For `ordered = [from, to]`: from < to (set, and not wrapping).
  static bool orderedOk(const GuardSig &sig, const std::vector<std::pair<std::string, Value>> &args) {
    if (sig.ordered.size() != 2)
      return true;
    const Value *a = nullptr, *b = nullptr;
    for (auto &[n, v] : args) {
      if (n == sig.ordered[0])
        a = &v;
      if (n == sig.ordered[1])
        b = &v;
    }
    return a && b && !a->isNull() && !b->isNull() && compareValues(*a, *b) < 0;
  }

  /// "name = value, …" of every set parameter (defaults included).
  static std::string describeArgs(const ResolvedGuard &g) {
    std::string out;
    for (auto &[name, v] : g.args)
      if (!v.isNull())
        out += (out.empty() ? "" : ", ") + name + " = " + toSource(v);
    return out;
  }

  const Model &model_;
  const Stdlib &std_;
  DiagnosticEngine &diags_;
  Evaluator eval_;
  const RecordSig *serviceSchema_;
  const RecordSig *envSchema_;
  std::map<std::string, Value> envValues_;
  bool indexed_ = false;
  std::vector<size_t> unfiltered_;
  std::unordered_map<std::string, std::vector<size_t>> byName_, byPrefix_;
  std::set<std::pair<std::string, std::vector<const char *>>> reportedConflicts_;
  std::set<std::pair<const char *, const Expr *>> reportedViolations_;
};

} // namespace

MergeResult mergeProgram(const Model &model, DiagnosticEngine &diags) {
  return Merger(model, diags).run();
}

} // namespace dpl
