// Type interning and spelling.
#include "compiler/sema/Types.h"

namespace dpl {

llvm::StringRef spelling(RefKind k) {
  switch (k) {
  case RefKind::Environment: return "environment";
  case RefKind::Service: return "service";
  case RefKind::Group: return "group";
  case RefKind::Stakeholder: return "stakeholder";
  }
  return "?";
}

static bool sameType(const Type &a, const Type &b) {
  return a.kind == b.kind && a.elem == b.elem && a.members == b.members &&
         a.enumSig == b.enumSig && a.record == b.record && a.family == b.family &&
         a.ref == b.ref;
}

TypeContext::TypeContext() {
  for (TypeKind k : {TypeKind::Error, TypeKind::Int, TypeKind::Float, TypeKind::Bool,
                     TypeKind::String, TypeKind::Duration, TypeKind::Percent, TypeKind::Time,
                     TypeKind::Timestamp, TypeKind::Timezone}) {
    Type t;
    t.kind = k;
    prims_.push_back(intern(t));
  }
}

const Type *TypeContext::intern(Type t) {
  for (auto &existing : all_)
    if (sameType(*existing, t))
      return existing.get();
  all_.push_back(std::make_unique<Type>(std::move(t)));
  return all_.back().get();
}

const Type *TypeContext::primitive(TypeKind k) const {
  for (const Type *t : prims_)
    if (t->kind == k)
      return t;
  return prims_[0];
}
const Type *TypeContext::list(const Type *elem) {
  Type t;
  t.kind = TypeKind::List;
  t.elem = elem;
  return intern(t);
}
const Type *TypeContext::map(const Type *elem) {
  Type t;
  t.kind = TypeKind::Map;
  t.elem = elem;
  return intern(t);
}
const Type *TypeContext::optional(const Type *elem) {
  if (elem->kind == TypeKind::Optional || elem->isError())
    return elem;
  Type t;
  t.kind = TypeKind::Optional;
  t.elem = elem;
  return intern(t);
}
const Type *TypeContext::enumType(const EnumSig *e) {
  Type t;
  t.kind = TypeKind::Enum;
  t.enumSig = e;
  return intern(t);
}
const Type *TypeContext::record(const RecordSig *r) {
  Type t;
  t.kind = TypeKind::Record;
  t.record = r;
  return intern(t);
}
const Type *TypeContext::family(const std::string &name) {
  Type t;
  t.kind = TypeKind::Family;
  t.family = name;
  return intern(t);
}
const Type *TypeContext::ref(RefKind k) {
  Type t;
  t.kind = TypeKind::Ref;
  t.ref = k;
  return intern(t);
}
const Type *TypeContext::unionOf(std::vector<const Type *> members) {
  if (members.size() == 1)
    return members[0];
  Type t;
  t.kind = TypeKind::Union;
  t.members = std::move(members);
  return intern(t);
}

std::string TypeContext::spell(const Type *t) {
  switch (t->kind) {
  case TypeKind::Error: return "<error>";
  case TypeKind::Int: return "int";
  case TypeKind::Float: return "float";
  case TypeKind::Bool: return "bool";
  case TypeKind::String: return "string";
  case TypeKind::Duration: return "duration";
  case TypeKind::Percent: return "percent";
  case TypeKind::Time: return "time";
  case TypeKind::Timestamp: return "timestamp";
  case TypeKind::Timezone: return "timezone";
  case TypeKind::Enum: return t->enumSig->name;
  case TypeKind::List: return "list<" + spell(t->elem) + ">";
  case TypeKind::Map: return "map<string, " + spell(t->elem) + ">";
  case TypeKind::Optional: return spell(t->elem) + "?";
  case TypeKind::Record: return t->record->name;
  case TypeKind::Family: return t->family;
  case TypeKind::Ref: return spelling(t->ref).str();
  case TypeKind::Union: {
    std::string out;
    for (size_t i = 0; i < t->members.size(); ++i)
      out += (i ? " | " : "") + spell(t->members[i]);
    return out;
  }
  }
  return "?";
}

std::string TypeContext::describe(const Type *t) {
  switch (t->kind) {
  case TypeKind::Error: return "an invalid value";
  case TypeKind::Int: return "an integer";
  case TypeKind::Float: return "a number";
  case TypeKind::Bool: return "a boolean";
  case TypeKind::String: return "a string";
  case TypeKind::Duration: return "a duration";
  case TypeKind::Percent: return "a percentage";
  case TypeKind::Time: return "a time of day";
  case TypeKind::Timestamp: return "an RFC 3339 timestamp string";
  case TypeKind::Timezone: return "an IANA time zone name";
  case TypeKind::Enum: {
    std::string out = "one of ";
    auto &m = t->enumSig->members;
    for (size_t i = 0; i < m.size(); ++i)
      out += (i ? (i + 1 == m.size() ? " or " : ", ") : "") + ("`" + m[i] + "`");
    return out;
  }
  case TypeKind::List: return "a list of " + spell(t->elem);
  case TypeKind::Map: return "a map of string to " + spell(t->elem);
  case TypeKind::Optional: return describe(t->elem);
  case TypeKind::Record: return "a `" + t->record->name + "` record";
  case TypeKind::Family: {
    bool vowel = !t->family.empty() && std::string("aeiou").find(t->family[0]) != std::string::npos;
    return (vowel ? "an " : "a ") + t->family + " (see stdlib)";
  }
  case TypeKind::Ref: return spelling(t->ref) == "environment" ? "an environment name"
                                                                : "a " + spelling(t->ref).str() + " name";
  case TypeKind::Union: {
    std::string out;
    for (size_t i = 0; i < t->members.size(); ++i)
      out += (i ? (i + 1 == t->members.size() ? " or " : ", ") : "") + describe(t->members[i]);
    return out;
  }
  }
  return "?";
}

} // namespace dpl
