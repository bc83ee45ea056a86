// DPL grammar: the deployment policy language (see docs/language.md).
// The checker, not the grammar, decides which statements a block may hold,
// so that misplaced statements get a precise diagnostic instead of a parse error.
grammar DPL;

file : decl* EOF ;

decl
  : 'owner' ident ';'                                            # ownerDecl
  | 'stakeholder' ident block                                    # stakeholderDecl
  | 'group' ident '=' value ';'                                  # groupDecl
  | 'environment' ident block                                    # environmentDecl
  | 'defaults' block                                             # defaultsDecl
  | 'service' ident block                                        # serviceDecl
  | 'rule' ident block                                           # ruleDecl
  // Declarations below are only legal in stdlib/ files.
  | 'guard' ident '(' (paramDecl (',' paramDecl)* ','?)? ')' block  # guardDecl
  | 'record' ident (':' ident)? '{' paramDecl* '}'               # recordDecl
  | 'schema' ident '{' paramDecl* '}'                            # schemaDecl
  | 'enum' ident '{' (ident (',' ident)* ','?)? '}'              # enumDecl
  ;

// `name: type = default` — a field or parameter declaration (stdlib only).
paramDecl : ident ':' typeExpr ('=' value)? ';'? ;
typeExpr  : typeAtom ('|' typeAtom)* ;
typeAtom  : ident ('<' typeExpr (',' typeExpr)* '>')? '?'? ;

block : '{' stmt* '}' ;

stmt
  : ident '=' value ';'                                          # fieldStmt
  | 'in' expr block                                              # inStmt
  | 'when' expr ';'                                              # whenStmt
  | 'require' ident callArgs? ';'                                # requireStmt
  | 'constrain' expr ';'                                         # constrainStmt
  ;

// A value is an expression or a record literal `kind { field = value; }`.
// Records are not expressions so that `in prod-eu { ... }` stays unambiguous.
value
  : ident block                                                  # recordValue
  | expr                                                         # exprValue
  ;

// `&&`, `||`, `!` and single-quoted strings are accepted by the grammar only
// so that the AST builder can say "write `and`" once instead of cascading.
expr     : andExpr (('or' | '||') andExpr)* ;
andExpr  : notExpr (('and' | '&&') notExpr)* ;
notExpr  : ('not' | '!') notExpr | cmpExpr ;
cmpExpr  : addExpr (cmpOp addExpr)? ;
cmpOp    : '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not' 'in' | 'matches' ;
addExpr  : unaryExpr (('+' | '-') unaryExpr)* ;
unaryExpr : '-' unaryExpr | postfixExpr ;
postfixExpr : primary ('.' ident | callArgs)* ;

primary
  : literal                                                      # literalExpr
  | ident                                                        # nameExpr
  | '(' expr ')'                                                 # parenExpr
  | '[' (value (',' value)* ','?)? ']'                           # listExpr
  | '{' (mapEntry (',' mapEntry)* ','?)? '}'                     # mapExpr
  ;

mapEntry : (ident | STRING) (':' | '=') value ;
callArgs : '(' (arg (',' arg)* ','?)? ')' ;
arg      : (ident '=')? value ;

literal
  : INT | FLOAT | DURATION | PERCENT | TIME | STRING | UNTERMINATED_STRING | SQ_STRING | 'true' | 'false'
  ;

// Keywords that may also be used as names (field names, references, `service.x`).
ident
  : IDENT | 'owner' | 'stakeholder' | 'group' | 'environment' | 'defaults' | 'service'
  | 'rule' | 'guard' | 'record' | 'schema' | 'enum' | 'when' | 'require' | 'constrain'
  ;

IDENT    : [A-Za-z_] [A-Za-z0-9_-]* ;
PERCENT  : [0-9]+ ('.' [0-9]+)? '%' ;
TIME     : [0-9] [0-9]? ':' [0-9] [0-9] ;
FLOAT    : [0-9]+ '.' [0-9]+ ;
// Any number with a letter suffix; the AST builder validates the units
// (`30s`, `1h30m`, `500ms`, `2d`) so that `10x` gets a precise message.
DURATION : [0-9]+ [A-Za-z] [A-Za-z0-9]* ;
INT      : [0-9]+ ;
STRING   : '"' (ESC | ~["\\\r\n])* '"' ;
UNTERMINATED_STRING : '"' (ESC | ~["\\\r\n])* ;
SQ_STRING : '\'' (ESC | ~['\\\r\n])* '\'' ;
fragment ESC : '\\' . ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
UNTERMINATED_COMMENT : '/*' (~'*' | '*'+ ~[*/])* '*'* -> channel(HIDDEN) ;
// Whitespace is skipped rather than kept on the hidden channel: nothing reads
// it, and a token object per run of blanks was a large share of lexing.
WS : [ \t\r\n\f]+ -> skip ;
// `#` comments (YAML/HCL habit): reported once, then skipped like a comment.
HASH_COMMENT : '#' ~[\r\n]* -> channel(HIDDEN) ;
// Anything else: reported once per run, invisible to the parser. A run is one
// token so that megabytes of binary junk stay cheap.
BAD_CHAR : ~[A-Za-z0-9_ \t\r\n\f"/#{}()[\];=,.:<>!|?+\-]+ -> channel(HIDDEN) ;
BAD_ONE  : . -> channel(HIDDEN) ;
