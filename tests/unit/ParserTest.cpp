// Parser and AST builder tests.
#include "tests/unit/TestUtil.h"

#include <gtest/gtest.h>

using namespace dpl;
using namespace dpl::ast;

TEST(Parser, SmokeParsesOwnerAndService) {
  TestTree t;
  SourceFile *f = t.parse("owner team;\nservice api { replicas = 2; }\n");
  ASSERT_EQ(f->decls.size(), 2u);
  EXPECT_EQ(f->decls[0]->kind, DeclKind::Owner);
  EXPECT_EQ(f->decls[0]->name.text, "team");
  auto *svc = llvm::cast<BlockDecl>(f->decls[1]);
  EXPECT_EQ(svc->name.text, "api");
  ASSERT_EQ(svc->body.size(), 1u);
  auto *field = llvm::cast<FieldStmt>(svc->body[0]);
  EXPECT_EQ(field->name.text, "replicas");
  EXPECT_EQ(llvm::cast<IntExpr>(field->value)->value, 2);
  EXPECT_EQ(t.diags.errorCount(), 0u);
}
