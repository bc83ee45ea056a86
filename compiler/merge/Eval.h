// Evaluation of DPL expressions: field values (type-directed, records filled
// with their stdlib defaults) and predicates (`when`, `in`, `constrain`).
#pragma once

#include "compiler/merge/Value.h"
#include "compiler/sema/ExprChecker.h"
#include "compiler/sema/Model.h"

namespace dpl {

/// Variables visible to a predicate: the environment and the service as
/// records (`env.tier`, `service.artifact.kind`), plus what bare names mean.
struct EvalScope {
  const Value *env = nullptr;     ///< record with `name` and environment fields
  const Value *service = nullptr; ///< record with `name` and service fields
  PredScope bare = PredScope::Rule;
};

class Evaluator {
public:
  explicit Evaluator(const Stdlib &stdlib) : std_(stdlib) {}

  /// The value of a (type-checked) field expression of type `expected`.
  /// Records and record calls get every field, defaults included. Strings
  /// keep `${...}` placeholders except those `subst` resolves.
  Value valueOf(const ast::Expr *e, const Type *expected, const EvalScope *subst = nullptr) const;

  /// Evaluates a predicate. Returns Bool, or Null when a comparison involved
  /// an absent value (the caller decides: `when` → false, `constrain` →
  /// not applicable).
  Value eval(const ast::Expr *e, const EvalScope &scope) const;

  /// `${env.name}`-style substitution of the names known at compile time
  /// (environment fields, `service.name`); `${version}` and `${port}` stay.
  std::string substitute(const std::string &text, const EvalScope &scope) const;

private:
  Value recordValue(const RecordSig &rec, const std::vector<std::pair<std::string, const ast::Expr *>> &set,
                    const EvalScope *subst) const;
  /// A name or member chain (`env.tier`, `service.artifact.ref`) without
  /// copying the records it walks: a pointer into the scope, or to `tmp`
  /// when the value had to be computed. Any other expression is evaluated
  /// into `tmp`.
  const Value *lookup(const ast::Expr *e, const EvalScope &scope, Value &tmp) const;
  const Stdlib &std_;
};

/// Docker's rule for the registry host of an image reference: the part
/// before the first `/` when it contains `.` or `:` or is `localhost`,
/// otherwise `docker.io`.
std::string imageRegistry(const std::string &ref);

} // namespace dpl
