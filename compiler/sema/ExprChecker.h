// Type checking of values (against an expected type) and of predicates
// (`when`, `in`, `constrain`). Internal to the sema phase.
#pragma once

#include "compiler/basic/Diagnostics.h"
#include "compiler/sema/Model.h"

namespace dpl {

/// Which `${...}` names a string may use.
enum class InterpScope : uint8_t {
  None,        ///< no interpolation allowed
  Environment, ///< `env.name` and environment fields
  Unit,        ///< also `version`, `port`, `service.name`
};

/// What bare names mean inside a predicate.
enum class PredScope : uint8_t {
  Rule,        ///< `when`: only `env.…` and `service.…`
  Environment, ///< `in <predicate>`: bare names are environment fields
  Unit,        ///< `constrain`: bare names are the unit's (service) fields
};

class ExprChecker {
public:
  ExprChecker(const Stdlib &stdlib, const Model *model, DiagnosticEngine &diags);

  /// Reports every way `e` fails to be a value of type `expected`.
  void checkValue(const ast::Expr *e, const Type *expected, InterpScope interp);

  /// Checks `name = value;` statements of a block against `schema`.
  /// `what` names the block in messages ("environment `dev`"). Only field
  /// statements are accepted; `requireAll` reports missing required fields.
  void checkFields(const std::vector<ast::Stmt *> &body, const RecordSig &schema,
                   const std::string &what, InterpScope interp, bool requireAll,
                   llvm::SMRange declRange);
  /// Checks one field statement (no duplicate tracking).
  void checkField(const ast::FieldStmt *f, const RecordSig &schema, const std::string &what,
                  InterpScope interp);

  /// Checks `require guard(args);`.
  void checkRequire(const ast::RequireStmt *r, InterpScope interp);

  /// Types a predicate and reports a non-boolean result with `what`
  /// ("`when` condition").
  void checkPredicate(const ast::Expr *e, PredScope scope, const std::string &what);

  /// Type of an expression in a predicate context (Error when invalid).
  const Type *typeOf(const ast::Expr *e, PredScope scope);

  /// Synthetic record types of `env` and `service` (schema fields + `name`).
  const RecordSig &envRecord() const { return envRecord_; }
  const RecordSig &serviceRecord() const { return serviceRecord_; }

private:
  void checkRecordLiteral(const ast::RecordExpr *e, const RecordSig &rec, InterpScope interp);
  void checkRecordCall(const ast::CallExpr *e, const RecordSig &rec, InterpScope interp);
  void checkArgs(const std::vector<ast::Arg> &args, llvm::ArrayRef<FieldSig> params,
                 const std::string &what, llvm::SMRange callRange, bool isGuard,
                 InterpScope interp, std::vector<std::string> *given = nullptr);
  void checkString(const ast::StringExpr *s, InterpScope interp);
  void checkReference(const ast::NameExpr *n, RefKind kind);
  bool looksLike(const ast::Expr *e, const Type *t) const;
  const RecordSig *recordKindOf(const ast::Expr *e, std::string &kindName, llvm::SMRange &kindRange) const;
  void mismatch(const ast::Expr *e, const Type *expected);
  std::string describeValue(const ast::Expr *e);
  const Type *typeOfName(const ast::NameExpr *n, PredScope scope);
  /// Like typeOfName but silent; null when the name means nothing by itself.
  const Type *typeOfNameQuiet(const ast::NameExpr *n, PredScope scope);
  const Type *fieldOf(const Type *base, const ast::Name &member);
  bool compatible(const Type *a, const Type *b) const;
  void checkAgainst(const ast::Expr *nameOrValue, const Type *t, PredScope scope);

  const Stdlib &std_;
  const Model *model_;
  DiagnosticEngine &diags_;
  TypeContext &types_;
  RecordSig envRecord_;
  RecordSig serviceRecord_;
};

} // namespace dpl
