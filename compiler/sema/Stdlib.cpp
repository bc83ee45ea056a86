// Builds stdlib signatures (enums, records, families, guards, schemas) from
// the declarations in stdlib/*.dpl. Nothing about a particular guard or
// runtime kind is hard-coded here.
#include "compiler/basic/Diagnostics.h"
#include "compiler/sema/ExprChecker.h"
#include "compiler/sema/Model.h"

namespace dpl {

using namespace ast;
using llvm::dyn_cast;
using llvm::isa;

namespace {

class StdlibLoader {
public:
  StdlibLoader(Stdlib &out, DiagnosticEngine &diags) : std_(out), diags_(diags) {}

  void load(const std::vector<const SourceFile *> &files) {
    // Pass 1: names of enums, records, families, schemas.
    for (const SourceFile *f : files)
      for (const Decl *d : f->decls) {
        if (d->name.empty())
          continue;
        if (auto *e = dyn_cast<EnumDecl>(d)) {
          auto sig = std::make_unique<EnumSig>();
          sig->name = e->name.text;
          sig->range = e->name.range;
          for (auto &m : e->members)
            sig->members.push_back(m.text);
          declare(d, std_.enums, std::move(sig));
        } else if (auto *r = dyn_cast<RecordDecl>(d)) {
          auto sig = std::make_unique<RecordSig>();
          sig->name = r->name.text;
          sig->family = r->family.text;
          sig->range = r->name.range;
          RecordSig *raw = sig.get();
          if (declare(d, std_.records, std::move(sig)) && !raw->family.empty())
            std_.families[raw->family].push_back(raw);
        } else if (auto *s = dyn_cast<SchemaDecl>(d)) {
          auto sig = std::make_unique<RecordSig>();
          sig->name = s->name.text;
          sig->range = s->name.range;
          declare(d, std_.schemas, std::move(sig));
        } else if (llvm::isa<GuardDecl>(d)) {
          auto sig = std::make_unique<GuardSig>();
          sig->name = d->name.text;
          sig->range = d->name.range;
          declare(d, std_.guards, std::move(sig));
        } else {
          diags_.report(DiagId::E109, d->keyword, "`" + spelling(d->kind).str() + "`",
                        "the standard library");
        }
      }
    // Pass 2: field and parameter types.
    for (const SourceFile *f : files)
      for (const Decl *d : f->decls) {
        if (auto *r = dyn_cast<RecordDecl>(d)) {
          if (RecordSig *sig = find(std_.records, r))
            sig->fields = fields(r->fields);
        } else if (auto *s = dyn_cast<SchemaDecl>(d)) {
          if (RecordSig *sig = find(std_.schemas, s))
            sig->fields = fields(s->fields);
        } else if (auto *g = dyn_cast<GuardDecl>(d)) {
          if (GuardSig *sig = find(std_.guards, g)) {
            sig->params = fields(g->params);
            guardSettings(*g, *sig);
          }
        }
      }
    // Pass 3: default values, now that every type is known.
    ExprChecker checker(std_, nullptr, diags_);
    auto checkDefaults = [&](const std::vector<FieldSig> &fs) {
      for (auto &f : fs)
        if (f.defaultValue)
          checker.checkValue(f.defaultValue, f.type, InterpScope::None);
    };
    for (auto &[_, r] : std_.records)
      checkDefaults(r->fields);
    for (auto &[_, s] : std_.schemas)
      checkDefaults(s->fields);
    for (auto &[_, g] : std_.guards)
      checkDefaults(g->params);
  }

private:
  template <typename Map, typename Sig> bool declare(const Decl *d, Map &map, std::unique_ptr<Sig> sig) {
    auto [it, fresh] = map.try_emplace(d->name.text, nullptr);
    if (!fresh) {
      diags_.report(DiagId::E200, d->name.range, spelling(d->kind), d->name.text)
          .note(it->second->range, DiagId::N001, d->name.text);
      return false;
    }
    it->second = std::move(sig);
    return true;
  }
  template <typename Map>
  typename Map::mapped_type::pointer find(Map &map, const Decl *d) {
    auto it = map.find(d->name.text);
    // Only the declaration that won (the first) fills in the signature.
    if (it == map.end() || it->second->range.Start.getPointer() != d->name.range.Start.getPointer())
      return nullptr;
    return it->second.get();
  }

  std::vector<FieldSig> fields(const std::vector<ParamDecl> &params) {
    std::vector<FieldSig> out;
    for (const ParamDecl &p : params) {
      FieldSig f;
      f.name = p.name.text;
      f.type = resolveType(p.type);
      f.defaultValue = p.defaultValue;
      f.range = p.name.range;
      out.push_back(std::move(f));
    }
    return out;
  }

  const Type *resolveType(const TypeRef &t) {
    TypeContext &types = std_.types;
    if (t.isUnion) {
      std::vector<const Type *> members;
      bool optional = false;
      for (const TypeRef &m : t.args) {
        const Type *mt = resolveType(m);
        optional |= mt->kind == TypeKind::Optional;
        members.push_back(mt->stripOptional());
      }
      const Type *u = types.unionOf(members);
      return optional ? types.optional(u) : u;
    }
    const Type *base = resolveNamed(t);
    return t.optional ? types.optional(base) : base;
  }

  const Type *resolveNamed(const TypeRef &t) {
    TypeContext &types = std_.types;
    const std::string &n = t.name.text;
    auto arity = [&](size_t want) {
      if (t.args.size() != want) {
        diags_.report(DiagId::E100, t.range,
                      "type `" + n + "` takes " + std::to_string(want) + " type argument(s)");
        return false;
      }
      return true;
    };
    static const std::pair<const char *, TypeKind> prims[] = {
        {"int", TypeKind::Int},           {"float", TypeKind::Float},
        {"bool", TypeKind::Bool},         {"string", TypeKind::String},
        {"duration", TypeKind::Duration}, {"percent", TypeKind::Percent},
        {"time", TypeKind::Time},         {"timestamp", TypeKind::Timestamp},
        {"timezone", TypeKind::Timezone}};
    for (auto &[name, kind] : prims)
      if (n == name)
        return arity(0) ? types.primitive(kind) : types.error();
    if (n == "list")
      return arity(1) ? types.list(resolveType(t.args[0])) : types.error();
    if (n == "map") {
      if (!arity(2))
        return types.error();
      const Type *key = resolveType(t.args[0]);
      if (key->kind != TypeKind::String)
        diags_.report(DiagId::E400, t.args[0].range, "a string", "key type `" + TypeContext::spell(key) + "`");
      return types.map(resolveType(t.args[1]));
    }
    static const std::pair<const char *, RefKind> refs[] = {
        {"environment", RefKind::Environment}, {"service", RefKind::Service},
        {"group", RefKind::Group}, {"stakeholder", RefKind::Stakeholder}};
    for (auto &[name, kind] : refs)
      if (n == name)
        return arity(0) ? types.ref(kind) : types.error();
    if (auto it = std_.enums.find(n); it != std_.enums.end())
      return types.enumType(it->second.get());
    if (auto it = std_.records.find(n); it != std_.records.end())
      return types.record(it->second.get());
    if (std_.families.count(n))
      return types.family(n);
    diags_.report(DiagId::E201, t.name.range, "type", n);
    return types.error();
  }

  /// `[a, b]` naming parameters of `sig`; anything else is E209.
  std::vector<std::string> paramNames(const Expr *value, const GuardSig &sig) {
    std::vector<std::string> out;
    auto *l = dyn_cast<ListExpr>(value);
    for (const Expr *e : l ? l->elements : std::vector<Expr *>{}) {
      auto *n = dyn_cast<NameExpr>(e);
      if (!n || !sig.param(n->name))
        diags_.report(DiagId::E209, e->range, sig.name, toString(e));
      else
        out.push_back(n->name);
    }
    return out;
  }

  void guardSettings(const GuardDecl &g, GuardSig &sig) {
    bool sawPhase = false;
    for (const Stmt *s : g.body) {
      auto *f = dyn_cast<FieldStmt>(s);
      if (!f) {
        diags_.report(DiagId::E109, s->range, "this statement", "a guard declaration");
        continue;
      }
      const std::string &key = f->name.text;
      if (key == "phase") {
        auto *n = dyn_cast<NameExpr>(f->value);
        if (n && (n->name == "gate" || n->name == "verify")) {
          sig.phase = n->name == "gate" ? GuardPhase::Gate : GuardPhase::Verify;
          sawPhase = true;
        } else {
          diags_.report(DiagId::E405, f->value->range, toString(f->value), "guard phase (`gate` or `verify`)");
        }
      } else if (key == "exactly_one_of") {
        sig.exactlyOneOf = paramNames(f->value, sig);
      } else if (key == "merge_key") {
        sig.hasMergeKey = isa<ListExpr>(f->value);
        sig.mergeKey = paramNames(f->value, sig);
      } else if (key == "stricter") {
        auto *m = dyn_cast<MapExpr>(f->value);
        for (const MapEntry &en : m ? m->entries : std::vector<MapEntry>{}) {
          auto *n = dyn_cast<NameExpr>(en.value);
          if (!sig.param(en.key.text) || !n ||
              (n->name != "max" && n->name != "min" && n->name != "intersect"))
            diags_.report(DiagId::E209, en.key.range, sig.name, en.key.text);
          else
            sig.stricter[en.key.text] = n->name;
        }
      } else if (key == "ordered") {
        sig.ordered = paramNames(f->value, sig);
      } else if (key == "min") {
        auto *m = dyn_cast<MapExpr>(f->value);
        for (const MapEntry &en : m ? m->entries : std::vector<MapEntry>{}) {
          auto *i = dyn_cast<IntExpr>(en.value);
          if (!sig.param(en.key.text) || !i)
            diags_.report(DiagId::E209, en.key.range, sig.name, en.key.text);
          else
            sig.minimums[en.key.text] = i->value;
        }
      } else {
        diags_.report(DiagId::E203, f->name.range, key, "a guard declaration");
      }
    }
    if (!sawPhase)
      diags_.report(DiagId::E208, g.name.range, "guard `" + g.name.text + "`", "phase");
  }

  Stdlib &std_;
  DiagnosticEngine &diags_;
};

} // namespace

std::unique_ptr<Stdlib> loadStdlib(const std::vector<const SourceFile *> &files,
                                   DiagnosticEngine &diags) {
  auto out = std::make_unique<Stdlib>();
  StdlibLoader(*out, diags).load(files);
  for (const char *required : {"stakeholder", "environment", "service"})
    if (!out->schema(required))
      diags.reportFile(DiagId::E208, "stdlib", "the standard library", std::string("schema ") + required);
  return out;
}

} // namespace dpl
