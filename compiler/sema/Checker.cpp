// Resolve and check phase: owners and authority, declarations and their
// duplicates, field schemas, references, guards, predicates and cycles.
#include "compiler/basic/Diagnostics.h"
#include "compiler/sema/Cycles.h"
#include "compiler/sema/ExprChecker.h"
#include "compiler/sema/Model.h"

#include <llvm/ADT/StringMap.h>

#include <algorithm>
#include <functional>
#include <set>

namespace dpl {

using namespace ast;
using llvm::cast;
using llvm::dyn_cast;
using llvm::isa;

// ----------------------------------------------------------------- helpers

bool StakeholderInfo::can(llvm::StringRef capability) const {
  return std::find(may.begin(), may.end(), capability) != may.end();
}

template <typename Vec>
static auto *lookup(const Vec &v, const std::map<std::string, size_t, std::less<>> &index,
                    llvm::StringRef name) {
  auto it = index.find(name);
  return it == index.end() ? nullptr : &v[it->second];
}
const StakeholderInfo *Model::stakeholder(llvm::StringRef name) const {
  auto it = stakeholderIndex.find(name);
  return it == stakeholderIndex.end() ? nullptr : stakeholders[it->second].get();
}
const EnvironmentInfo *Model::environment(llvm::StringRef name) const {
  return lookup(environments, environmentIndex, name);
}
const ServiceInfo *Model::service(llvm::StringRef name) const { return lookup(services, serviceIndex, name); }
const GroupInfo *Model::group(llvm::StringRef name) const { return lookup(groups, groupIndex, name); }

/// Glob matching by dynamic programming over (pattern position, text
/// position): O(|pattern| × |text|) whatever the pattern, so no input can
/// make it exponential. match[i][j]: pattern[i..] matches text[j..].
static bool globMatchImpl(llvm::StringRef p, llvm::StringRef t) {
  size_t P = p.size(), T = t.size();
  // One flat table, on the stack for the usual short pattern and name (the
  // merge matches `service.name matches "*-ledger"` for every unit).
  llvm::SmallVector<char, 512> table((P + 1) * (T + 1), 0);
  auto match = [&](size_t i) { return table.data() + i * (T + 1); };
  match(P)[T] = 1;
  for (size_t i = P; i-- > 0;) {
    bool doubleStar = p[i] == '*' && i + 1 < P && p[i + 1] == '*';
    for (size_t j = T + 1; j-- > 0;) {
      char c = p[i];
      bool m = false;
      if (doubleStar) {
        // `**` matches any run (slashes included); `**/` may also match nothing.
        size_t after = i + 2;
        m = match(after)[j] || (j < T && match(i)[j + 1]);
        if (!m && after < P && p[after] == '/')
          m = match(after + 1)[j];
      } else if (c == '*') {
        m = match(i + 1)[j] || (j < T && t[j] != '/' && match(i)[j + 1]);
      } else if (j == T) {
        m = false;
      } else if (c == '?') {
        m = t[j] != '/' && match(i + 1)[j + 1];
      } else if (c == '[') {
        size_t close = p.find(']', i + 1);
        if (close != llvm::StringRef::npos) {
          llvm::StringRef cls = p.slice(i + 1, close);
          bool negate = cls.consume_front("!") || cls.consume_front("^");
          bool hit = false;
          for (size_t k = 0; k < cls.size(); ++k) {
            if (k + 2 < cls.size() && cls[k + 1] == '-') {
              hit |= t[j] >= cls[k] && t[j] <= cls[k + 2];
              k += 2;
            } else {
              hit |= t[j] == cls[k];
            }
          }
          m = hit != negate && match(close + 1)[j + 1];
        }
      } else {
        m = c == t[j] && match(i + 1)[j + 1];
      }
      match(i)[j] = m;
    }
  }
  return match(0)[0];
}

bool globMatch(llvm::StringRef pattern, llvm::StringRef text) { return globMatchImpl(pattern, text); }

std::string globProblem(llvm::StringRef g) {
    if (g.empty())
      return "the pattern is empty";
    for (size_t i = 0; i < g.size(); ++i) {
      if (g[i] != '[')
        continue;
      size_t close = g.find(']', i + 1);
      if (close == llvm::StringRef::npos)
        return "`[` at position " + std::to_string(i + 1) + " is never closed";
      if (close == i + 1)
        return "empty character class `[]`";
      i = close;
    }
    return "";
  }


namespace {

/// Whether `e` is absent or a list of plain strings.
bool isStringList(const Expr *e) {
  if (!e)
    return true;
  auto *l = dyn_cast<ListExpr>(e);
  if (!l)
    return false;
  for (const Expr *el : l->elements)
    if (!isa<StringExpr>(el))
      return false;
  return true;
}

std::vector<std::string> stringList(const Expr *e) {
  std::vector<std::string> out;
  if (auto *l = llvm::dyn_cast_or_null<ListExpr>(e))
    for (const Expr *el : l->elements) {
      if (auto *s = dyn_cast<StringExpr>(el))
        out.push_back(s->value);
      else if (auto *n = dyn_cast<NameExpr>(el))
        out.push_back(n->name);
    }
  return out;
}

const FieldStmt *fieldIn(const std::vector<Stmt *> &body, llvm::StringRef name) {
  for (const Stmt *s : body)
    if (auto *f = dyn_cast<FieldStmt>(s); f && f->name.text == name)
      return f;
  return nullptr;
}

std::string globList(const std::vector<std::string> &globs) {
  std::string out = "[";
  for (size_t i = 0; i < globs.size(); ++i)
    out += (i ? ", " : "") + ("\"" + globs[i] + "\"");
  return out + "]";
}

class Checker {
public:
  Checker(const Stdlib &stdlib, DiagnosticEngine &diags)
      : std_(stdlib), diags_(diags), model_(std::make_unique<Model>()),
        exprs_(stdlib, model_.get(), diags) {
    model_->stdlib = &stdlib;
  }

  std::unique_ptr<Model> run(const std::vector<const SourceFile *> &files) {
    for (const SourceFile *f : files)
      collectOwnerAndStakeholders(*f);
    for (const SourceFile *f : files)
      resolveOwner(*f);
    for (const SourceFile *f : files)
      collectDecls(*f);
    checkStakeholders();
    for (auto &g : model_->groups)
      exprs_.checkValue(g.decl->value, std_.types.list(std_.types.primitive(TypeKind::String)),
                        InterpScope::None);
    checkEnvironments();
    checkDefaults();
    checkServices();
    checkRules();
    checkCycles();
    return std::move(model_);
  }

private:
  // --------------------------------------------------------------- owners
  void collectOwnerAndStakeholders(const SourceFile &f) {
    const OwnerDecl *owner = nullptr;
    bool first = true;
    for (const Decl *d : f.decls) {
      if (auto *o = dyn_cast<OwnerDecl>(d)) {
        if (owner) {
          diags_.report(DiagId::E306, o->range).note(owner->range, DiagId::N013);
        } else {
          owner = o;
          if (!first)
            diags_.report(DiagId::E305, o->range);
        }
      }
      first = false;
      if (isa<GuardDecl>(d) || isa<RecordDecl>(d) || isa<SchemaDecl>(d) || isa<EnumDecl>(d))
        diags_.report(DiagId::E108, d->keyword, spelling(d->kind));
      if (d->kind == DeclKind::Stakeholder && !d->name.empty()) {
        bool root = f.relPath.find('/') == std::string::npos;
        if (!root) {
          diags_.report(DiagId::E302, d->name.range, d->name.text).hint(DiagId::N007);
          continue;
        }
        if (const StakeholderInfo *prev = model_->stakeholder(d->name.text)) {
          diags_.report(DiagId::E200, d->name.range, "stakeholder", d->name.text)
              .note(prev->decl->name.range, DiagId::N001, d->name.text);
          continue;
        }
        auto info = std::make_unique<StakeholderInfo>();
        info->decl = cast<BlockDecl>(d);
        info->name = d->name.text;
        info->paths = stringList(fieldValue(info->decl, "paths"));
        info->may = stringList(fieldValue(info->decl, "may"));
        info->services = stringList(fieldValue(info->decl, "services"));
        info->pathsKnown = fieldValue(info->decl, "paths") && isStringList(fieldValue(info->decl, "paths"));
        info->servicesKnown = isStringList(fieldValue(info->decl, "services"));
        model_->stakeholderIndex.emplace(info->name, model_->stakeholders.size());
        model_->stakeholders.push_back(std::move(info));
      }
    }
    owners_[&f] = owner;
    if (!owner && f.parsedOk) {
      llvm::StringRef text = diags_.sources().text(f.buffer);
      llvm::SMLoc start = llvm::SMLoc::getFromPointer(text.data());
      diags_.report(DiagId::E300, start).hint(DiagId::N009);
    }
  }

  static const Expr *fieldValue(const BlockDecl *d, llvm::StringRef name) {
    const FieldStmt *f = fieldIn(d->body, name);
    return f ? f->value : nullptr;
  }

  void resolveOwner(const SourceFile &f) {
    const OwnerDecl *o = owners_[&f];
    if (!o || o->name.empty())
      return;
    const StakeholderInfo *s = model_->stakeholder(o->name.text);
    if (!s) {
      std::vector<std::string> names;
      for (auto &x : model_->stakeholders)
        names.push_back(x->name);
      auto d = diags_.report(DiagId::E201, o->name.range, "stakeholder", o->name.text);
      std::string best = closestName(o->name.text, names);
      if (!best.empty())
        d.hint(DiagId::N002, best);
      return;
    }
    bool ok = !s->pathsKnown;
    for (auto &g : s->paths)
      ok |= globMatch(g, f.relPath);
    if (!ok) {
      diags_.report(DiagId::E301, o->name.range, s->name, f.relPath, globList(s->paths))
          .note(s->decl->name.range, DiagId::N004, s->name);
      return;
    }
    fileOwner_[&f] = s;
  }

  const StakeholderInfo *ownerOf(const SourceFile &f) {
    auto it = fileOwner_.find(&f);
    return it == fileOwner_.end() ? nullptr : it->second;
  }

  /// Reports a missing capability; returns true when allowed (or unknowable).
  bool requireCapability(const StakeholderInfo *s, llvm::StringRef cap, llvm::StringRef action,
                         llvm::SMRange where) {
    if (!s || s->can(cap))
      return true;
    diags_.report(DiagId::E303, where, s->name, action, cap)
        .note(s->decl->name.range, DiagId::N004, s->name)
        .hint(DiagId::N010, cap, s->name);
    return false;
  }

  // --------------------------------------------------------- declarations
  template <typename Info>
  bool declare(std::vector<Info> &vec, std::map<std::string, size_t, std::less<>> &index,
               const SourceFile &f, const Decl *d, const char *what) {
    if (d->name.empty())
      return false;
    auto [it, fresh] = index.try_emplace(d->name.text, vec.size());
    if (!fresh) {
      diags_.report(DiagId::E200, d->name.range, what, d->name.text)
          .note(vec[it->second].decl->name.range, DiagId::N001, d->name.text);
      return false;
    }
    Info info;
    info.file = &f;
    info.owner = ownerOf(f);
    info.decl = static_cast<decltype(info.decl)>(d);
    vec.push_back(std::move(info));
    return true;
  }

  void collectDecls(const SourceFile &f) {
    const StakeholderInfo *owner = ownerOf(f);
    for (const Decl *d : f.decls) {
      switch (d->kind) {
      case DeclKind::Group:
        declare(model_->groups, model_->groupIndex, f, d, "group");
        break;
      case DeclKind::Environment:
        requireCapability(owner, "environments", "declare environments", d->keyword);
        if (declare(model_->environments, model_->environmentIndex, f, d, "environment")) {
          auto &env = model_->environments.back();
          for (auto &n : stringList(fieldValue(env.decl, "after")))
            env.after.push_back(n);
        }
        break;
      case DeclKind::Defaults: {
        requireCapability(owner, "defaults", "set `defaults`", d->keyword);
        DefaultsInfo info;
        info.file = &f;
        info.owner = owner;
        info.decl = cast<BlockDecl>(d);
        model_->defaults.push_back(info);
        break;
      }
      case DeclKind::Service:
        if (owner && !d->name.empty()) {
          bool ok = !owner->servicesKnown;
          for (auto &g : owner->services)
            ok |= globMatch(g, d->name.text);
          if (!ok)
            diags_.report(DiagId::E304, d->name.range, owner->name, d->name.text,
                          globList(owner->services))
                .note(owner->decl->name.range, DiagId::N004, owner->name);
        }
        if (declare(model_->services, model_->serviceIndex, f, d, "service")) {
          auto &svc = model_->services.back();
          svc.dependsOn = stringList(fieldValue(svc.decl, "depends_on"));
        }
        break;
      case DeclKind::Rule:
        if (declare(model_->rules, model_->ruleIndex, f, d, "rule")) {
          auto *rule = cast<BlockDecl>(d);
          for (const Stmt *s : rule->body) {
            if (isa<RequireStmt>(s))
              requireCapability(owner, "require", "require guards in rules", s->range);
            else if (isa<ConstrainStmt>(s))
              requireCapability(owner, "constrain", "constrain values in rules", s->range);
          }
        }
        break;
      default:
        break;
      }
    }
  }

  // ------------------------------------------------------------ per kind
  void checkStakeholders() {
    const RecordSig *schema = std_.schema("stakeholder");
    for (auto &s : model_->stakeholders) {
      exprs_.checkFields(s->decl->body, *schema, "stakeholder `" + s->name + "`", InterpScope::None,
                         true, s->decl->name.range);
      for (const char *field : {"paths", "services"}) {
        auto *list = llvm::dyn_cast_or_null<ListExpr>(fieldValue(s->decl, field));
        if (!list)
          continue;
        for (const Expr *el : list->elements) {
          auto *str = dyn_cast<StringExpr>(el);
          if (!str)
            continue;
          std::string problem = globProblem(str->value);
          if (!problem.empty()) {
            diags_.report(DiagId::E411, el->range, str->value, problem);
            continue;
          }
        }
      }
    }
  }

  void checkEnvironments() {
    const RecordSig *schema = std_.schema("environment");
    for (auto &env : model_->environments) {
      exprs_.checkFields(env.decl->body, *schema, "environment `" + env.decl->name.text + "`",
                         InterpScope::Environment, true, env.decl->name.range);
      if (!fieldIn(env.decl->body, "runtime"))
        diags_.report(DiagId::W001, env.decl->name.range, env.decl->name.text);
    }
  }

  void checkDefaults() {
    const RecordSig *schema = std_.schema("service");
    for (auto &d : model_->defaults)
      exprs_.checkFields(d.decl->body, *schema, "`defaults`", InterpScope::Unit, false, d.decl->keyword);
  }

  void checkServiceBody(const std::vector<Stmt *> &body, const std::string &what, bool nested) {
    const RecordSig *schema = std_.schema("service");
    llvm::StringMap<const FieldStmt *> seen;
    for (const Stmt *s : body) {
      switch (s->kind) {
      case StmtKind::Field: {
        auto *f = cast<FieldStmt>(s);
        if (f->name.empty())
          break;
        auto [it, fresh] = seen.try_emplace(f->name.text, f);
        if (!fresh) {
          diags_.report(DiagId::E202, f->name.range, f->name.text)
              .note(it->second->name.range, DiagId::N012, f->name.text);
          break;
        }
        exprs_.checkField(f, *schema, what, InterpScope::Unit);
        break;
      }
      case StmtKind::Require:
        exprs_.checkRequire(cast<RequireStmt>(s), InterpScope::Unit);
        break;
      case StmtKind::In: {
        auto *in = cast<InStmt>(s);
        if (nested) {
          diags_.report(DiagId::E109, s->range, "a nested `in` block", what);
          break;
        }
        checkInPredicate(in);
        checkServiceBody(in->body, "an `in` block", true);
        break;
      }
      case StmtKind::When:
        diags_.report(DiagId::E109, s->range, "`when`", what).hint(DiagId::N014, "`when`", "a `rule`");
        break;
      case StmtKind::Constrain:
        diags_.report(DiagId::E109, s->range, "`constrain`", what).hint(DiagId::N014, "`constrain`", "a `rule`");
        break;
      }
    }
  }

  /// A field in `body` that is unknown and whose "did you mean" is `name`:
  /// reported already (E203), so `name` is not also reported missing.
  static bool misspeltAs(const std::vector<Stmt *> &body, const RecordSig &schema, llvm::StringRef name) {
    std::vector<std::string> names;
    for (auto &f : schema.fields)
      names.push_back(f.name);
    for (const Stmt *s : body)
      if (auto *f = dyn_cast<FieldStmt>(s); f && !schema.field(f->name.text) &&
                                             closestName(f->name.text, names) == name)
        return true;
    return false;
  }

  /// `in <environment>` or `in <predicate over the environment>`.
  void checkInPredicate(const InStmt *in) {
    if (auto *n = llvm::dyn_cast_or_null<NameExpr>(in->predicate)) {
      if (model_->environment(n->name))
        return;
      // A bare boolean environment field is a predicate; anything else must name an environment.
      if (const FieldSig *f = exprs_.envRecord().field(n->name);
          f && f->type->stripOptional()->kind == TypeKind::Bool)
        return;
      std::vector<std::string> names;
      for (auto &e : model_->environments)
        names.push_back(e.decl->name.text);
      auto d = diags_.report(DiagId::E201, n->range, "environment", n->name);
      std::string best = closestName(n->name, names);
      if (!best.empty())
        d.hint(DiagId::N002, best);
      return;
    }
    exprs_.checkPredicate(in->predicate, PredScope::Environment, "an `in` predicate");
  }

  void checkServices() {
    for (auto &svc : model_->services) {
      std::string what = "service `" + svc.decl->name.text + "`";
      checkServiceBody(svc.decl->body, what, false);
      // Required fields must be set by the service itself or by `defaults`.
      for (const FieldSig &fs : std_.schema("service")->fields) {
        if (!fs.required() || fieldIn(svc.decl->body, fs.name) ||
            misspeltAs(svc.decl->body, *std_.schema("service"), fs.name))
          continue;
        bool inDefaults = false;
        for (auto &d : model_->defaults)
          inDefaults |= fieldIn(d.decl->body, fs.name) != nullptr;
        if (!inDefaults)
          diags_.report(DiagId::E208, svc.decl->name.range, what, fs.name);
      }
    }
  }

  void checkRules() {
    for (auto &rule : model_->rules) {
      const std::string &name = rule.decl->name.text;
      std::string what = "rule `" + name + "`";
      const WhenStmt *when = nullptr;
      bool acts = false;
      for (const Stmt *s : rule.decl->body) {
        switch (s->kind) {
        case StmtKind::When: {
          auto *w = cast<WhenStmt>(s);
          if (when) {
            diags_.report(DiagId::E207, s->range, name).note(when->range, DiagId::N012, "when");
            break;
          }
          when = w;
          rule.when = w->predicate;
          exprs_.checkPredicate(w->predicate, PredScope::Rule, "the `when` condition");
          break;
        }
        case StmtKind::Require:
          acts = true;
          exprs_.checkRequire(cast<RequireStmt>(s), InterpScope::Unit);
          break;
        case StmtKind::Constrain:
          acts = true;
          exprs_.checkPredicate(cast<ConstrainStmt>(s)->predicate, PredScope::Unit, "a constraint");
          break;
        case StmtKind::Field:
          // A "field" with a syntax error is usually a misspelt keyword
          // (`requir soak(1m);`): the parser has said so already.
          if (isa<ErrorExpr>(cast<FieldStmt>(s)->value))
            break;
          diags_.report(DiagId::E109, s->range, "a field assignment", what)
              .hint(DiagId::N008, "`when`, `require` and `constrain`");
          break;
        case StmtKind::In:
          diags_.report(DiagId::E109, s->range, "an `in` block", what)
              .hint(DiagId::N008, "`when`, `require` and `constrain`");
          break;
        }
      }
      // In a file with syntax errors the missing `require` is likely the typo
      // already reported.
      if (!acts && rule.file && rule.file->parsedOk)
        diags_.report(DiagId::W004, rule.decl->name.range, name);
    }
  }

  // --------------------------------------------------------------- cycles
  using Graph = CycleGraph;

  static std::vector<CycleEdge> edgesOf(const BlockDecl *d, llvm::StringRef field) {
    std::vector<CycleEdge> out;
    const FieldStmt *f = fieldIn(d->body, field);
    if (auto *l = f ? dyn_cast<ListExpr>(f->value) : nullptr)
      for (const Expr *el : l->elements)
        if (auto *n = dyn_cast<NameExpr>(el))
          out.push_back({n->name, n->range});
    return out;
  }

  void findCycles(const Graph &g, DiagId id, const char *verb) {
    forEachCycle(g, [&](const std::vector<std::string> &nodes, const std::vector<const CycleEdge *> &edges) {
      std::string path;
      for (auto &n : nodes)
        path += "`" + n + "` → ";
      path += "`" + nodes.front() + "`";
      auto d = diags_.report(id, edges.front()->at, path);
      for (size_t i = 1; i < nodes.size(); ++i)
        d.note(edges[i]->at, DiagId::N005, nodes[i], verb, i + 1 < nodes.size() ? nodes[i + 1] : nodes.front());
    });
  }

  void checkCycles() {
    Graph envs, svcs;
    for (auto &e : model_->environments)
      envs[e.decl->name.text] = edgesOf(e.decl, "after");
    for (auto &s : model_->services)
      svcs[s.decl->name.text] = edgesOf(s.decl, "depends_on");
    findCycles(envs, DiagId::E500, "comes after");
    findCycles(svcs, DiagId::E501, "depends on");
  }

  const Stdlib &std_;
  DiagnosticEngine &diags_;
  std::unique_ptr<Model> model_;
  ExprChecker exprs_;
  std::map<const SourceFile *, const OwnerDecl *> owners_;
  std::map<const SourceFile *, const StakeholderInfo *> fileOwner_;
};

} // namespace

std::unique_ptr<Model> checkProgram(const std::vector<const SourceFile *> &files,
                                    const Stdlib &stdlib, DiagnosticEngine &diags) {
  return Checker(stdlib, diags).run(files);
}

} // namespace dpl
