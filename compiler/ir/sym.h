/* Symbolic sizes: integer (and, inside shape subgraphs, real) expressions in
 * the model's free dimensions (batch N, image H and W, ...).
 *
 * Every spatial size in a model is a function of the input H and W; keeping
 * it symbolic lets one compiled plan serve every image size, and lets the
 * emitter print the same formula as C. Expressions are hash-consed in a table,
 * so two sizes computed the same way are the same lscc_sym and comparing
 * shapes is comparing integers. Constant sub-expressions fold on creation. */
#ifndef LSCC_SYM_H
#define LSCC_SYM_H

#include <stddef.h>
#include <stdint.h>

typedef int32_t lscc_sym;      /* index into a lscc_symtab */
#define LSCC_SYM_NONE (-1)     /* unknown (data dependent) */

typedef enum lscc_sym_op {
    LSCC_SYM_CONST,
    LSCC_SYM_VAR,
    LSCC_SYM_ADD,
    LSCC_SYM_SUB,
    LSCC_SYM_MUL,
    LSCC_SYM_TDIV,  /* integer division truncating toward zero (ONNX int Div) */
    LSCC_SYM_FDIV,  /* integer floor division */
    LSCC_SYM_RDIV,  /* real division */
    LSCC_SYM_MOD,   /* floor modulo (sign of divisor) */
    LSCC_SYM_MIN,
    LSCC_SYM_MAX,
    LSCC_SYM_FLOOR,
    LSCC_SYM_CEIL
} lscc_sym_op;

typedef struct lscc_symtab lscc_symtab;

lscc_symtab *lscc_symtab_new(void);
void lscc_symtab_free(lscc_symtab *t);

/* Constructors return LSCC_SYM_NONE when an operand is NONE or on OOM. */
lscc_sym lscc_sym_const(lscc_symtab *t, double v);
lscc_sym lscc_sym_var(lscc_symtab *t, const char *name); /* same name, same var */
lscc_sym lscc_sym_bin(lscc_symtab *t, lscc_sym_op op, lscc_sym a, lscc_sym b);
lscc_sym lscc_sym_un(lscc_symtab *t, lscc_sym_op op, lscc_sym a); /* FLOOR, CEIL */

/* Shorthands for the arithmetic shape rules use. */
lscc_sym lscc_sym_addc(lscc_symtab *t, lscc_sym a, double c);
lscc_sym lscc_sym_mulc(lscc_symtab *t, lscc_sym a, double c);

/* 1 and *v set when s is a constant. */
int lscc_sym_get_const(const lscc_symtab *t, lscc_sym s, double *v);
/* 1 when s is known to be integer valued. */
int lscc_sym_is_int(const lscc_symtab *t, lscc_sym s);

int lscc_sym_nvars(const lscc_symtab *t);
const char *lscc_sym_var_name(const lscc_symtab *t, int var);
int lscc_sym_find_var(const lscc_symtab *t, const char *name); /* -1 if absent */

/* Evaluates s with vars[i] the value of variable i. Returns 0, or -1 when the
 * expression is NONE, divides by zero or leaves the exact-integer range. */
int lscc_sym_eval(const lscc_symtab *t, lscc_sym s, const double *vars, double *out);

/* 1 when a and b are equal for a spread of sample variable values (sizes from
 * exporters are often computed along different paths, e.g. the two arms of a
 * residual block, and need not be structurally identical). */
int lscc_sym_same(const lscc_symtab *t, lscc_sym a, lscc_sym b);

/* Prints s as a C-like expression ("(H - 1) / 2 + 1"); returns the length
 * that the full text needs, like snprintf. */
size_t lscc_sym_print(const lscc_symtab *t, lscc_sym s, char *buf, size_t n);

/* The node behind s (for emitters): its op, operands and constant value or
 * variable index. -1 for an invalid symbol. Operands have smaller indices. */
int lscc_sym_node(const lscc_symtab *t, lscc_sym s, lscc_sym_op *op, lscc_sym *a, lscc_sym *b, double *v);

#endif
