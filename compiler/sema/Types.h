// DPL types: primitives, collections, enums, records, record families,
// references and unions. Types are interned; compare pointers.
#pragma once

#include <llvm/ADT/StringRef.h>
#include <llvm/Support/SMLoc.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dpl {

namespace ast {
struct Expr;
struct Decl;
struct GuardDecl;
struct RecordDecl;
} // namespace ast

enum class TypeKind : uint8_t {
  Error,     ///< result of an erroneous expression; compatible with everything
  Int, Float, Bool, String, Duration, Percent, Time, Timestamp,
  Timezone,  ///< IANA time zone name, validated against the system tzdata
  Enum,      ///< named enumeration declared in the stdlib
  List,      ///< list<elem>
  Map,       ///< map<string, elem>
  Optional,  ///< elem?
  Record,    ///< a record kind (`process`, `http`, …)
  Family,    ///< any record of a family (`runtime`, `artifact`, `health`)
  Ref,       ///< reference to a declaration (`environment`, `service`, `group`)
  Union,     ///< one of members
};

enum class RefKind : uint8_t { Environment, Service, Group, Stakeholder };
llvm::StringRef spelling(RefKind k);

struct EnumSig;
struct RecordSig;

struct Type {
  TypeKind kind;
  const Type *elem = nullptr;             ///< List, Map, Optional
  std::vector<const Type *> members;      ///< Union
  const EnumSig *enumSig = nullptr;       ///< Enum
  const RecordSig *record = nullptr;      ///< Record
  std::string family;                     ///< Family
  RefKind ref = RefKind::Environment;     ///< Ref

  bool isError() const { return kind == TypeKind::Error; }
  /// The type without an Optional wrapper.
  const Type *stripOptional() const { return kind == TypeKind::Optional ? elem : this; }
};

/// A field of a record or schema, or a parameter of a guard.
struct FieldSig {
  std::string name;
  const Type *type = nullptr;
  const ast::Expr *defaultValue = nullptr;
  llvm::SMRange range;
  bool required() const { return !defaultValue && type->kind != TypeKind::Optional; }
};

struct EnumSig {
  std::string name;
  std::vector<std::string> members;
  llvm::SMRange range;
};

struct RecordSig {
  std::string name;
  std::string family;          ///< empty for a standalone record
  std::vector<FieldSig> fields;
  llvm::SMRange range;
  const FieldSig *field(llvm::StringRef n) const {
    for (auto &f : fields)
      if (f.name == n)
        return &f;
    return nullptr;
  }
};

enum class GuardPhase : uint8_t { Gate, Verify };

struct GuardSig {
  std::string name;
  GuardPhase phase = GuardPhase::Gate;
  std::vector<FieldSig> params;
  std::vector<std::string> exactlyOneOf;
  std::map<std::string, int64_t> minimums; ///< param → smallest allowed int
  /// Guards of this kind with equal values of these parameters are one guard
  /// (e.g. approval by `group`); empty with `hasMergeKey`: one per unit.
  std::vector<std::string> mergeKey;
  bool hasMergeKey = false;
  /// How duplicates merge to the stricter one: param → "max", "min" or
  /// "intersect" (lists: keep common elements).
  std::map<std::string, std::string> stricter;
  /// Two parameters that form a range `[first, second)`: guards merge only
  /// when every request and the result have first < second (a window that
  /// crosses midnight is kept as a separate guard).
  std::vector<std::string> ordered;
  llvm::SMRange range;
  const FieldSig *param(llvm::StringRef n) const {
    for (auto &p : params)
      if (p.name == n)
        return &p;
    return nullptr;
  }
};

/// Interns types and renders them for messages ("list<string>", "a duration").
class TypeContext {
public:
  TypeContext();
  const Type *error() const { return prims_[0]; }
  const Type *primitive(TypeKind k) const;
  const Type *list(const Type *elem);
  const Type *map(const Type *elem);
  const Type *optional(const Type *elem);
  const Type *enumType(const EnumSig *e);
  const Type *record(const RecordSig *r);
  const Type *family(const std::string &name);
  const Type *ref(RefKind k);
  const Type *unionOf(std::vector<const Type *> members);

  /// The type as users write it: `list<string>`, `duration`, `runtime`.
  static std::string spell(const Type *t);
  /// With an article for messages: "a duration", "an environment name".
  static std::string describe(const Type *t);

private:
  const Type *intern(Type t);
  std::vector<std::unique_ptr<Type>> all_;
  std::vector<const Type *> prims_;
};

} // namespace dpl
