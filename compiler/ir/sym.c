#include "sym.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest magnitude at which doubles still hold every integer exactly. */
#define EXACT_LIMIT 9007199254740992.0

typedef struct symnode {
    lscc_sym_op op;
    lscc_sym a, b;
    double v; /* CONST: value; VAR: index */
    int is_int;
} symnode;

struct lscc_symtab {
    symnode *n;
    int len, cap;
    int *hash; /* open addressing, -1 empty */
    int hcap;
    char **vars;
    int nvars;
    /* memo for lscc_sym_eval (generation stamped; not thread safe) */
    double *memo;
    unsigned *memo_gen;
    int memo_cap;
    unsigned gen;
};

lscc_symtab *lscc_symtab_new(void) {
    lscc_symtab *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->hcap = 1024;
    t->hash = malloc(sizeof(int) * (size_t)t->hcap);
    if (!t->hash) {
        free(t);
        return NULL;
    }
    memset(t->hash, 0xff, sizeof(int) * (size_t)t->hcap);
    return t;
}

void lscc_symtab_free(lscc_symtab *t) {
    if (!t) return;
    for (int i = 0; i < t->nvars; i++) free(t->vars[i]);
    free(t->vars);
    free(t->n);
    free(t->hash);
    free(t->memo);
    free(t->memo_gen);
    free(t);
}

static unsigned hash_node(const symnode *s) {
    uint64_t bits;
    memcpy(&bits, &s->v, sizeof bits);
    uint64_t h = (uint64_t)s->op * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)(uint32_t)s->a + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
    h ^= (uint64_t)(uint32_t)s->b + 0x85EBCA77C2B2AE63ull + (h << 6) + (h >> 2);
    h ^= bits + 0xC2B2AE3D27D4EB4Full + (h << 6) + (h >> 2);
    return (unsigned)(h ^ (h >> 32));
}

static int same_node(const symnode *x, const symnode *y) {
    return x->op == y->op && x->a == y->a && x->b == y->b &&
           memcmp(&x->v, &y->v, sizeof x->v) == 0;
}

static int rehash(lscc_symtab *t) {
    int hcap = t->hcap * 2;
    int *h = malloc(sizeof(int) * (size_t)hcap);
    if (!h) return -1;
    memset(h, 0xff, sizeof(int) * (size_t)hcap);
    for (int i = 0; i < t->len; i++) {
        unsigned k = hash_node(&t->n[i]) & (unsigned)(hcap - 1);
        while (h[k] >= 0) k = (k + 1) & (unsigned)(hcap - 1);
        h[k] = i;
    }
    free(t->hash);
    t->hash = h;
    t->hcap = hcap;
    return 0;
}

static lscc_sym intern(lscc_symtab *t, symnode s) {
    if (s.op == LSCC_SYM_CONST && s.v == 0) s.v = 0; /* -0 -> 0 */
    unsigned k = hash_node(&s) & (unsigned)(t->hcap - 1);
    while (t->hash[k] >= 0) {
        if (same_node(&t->n[t->hash[k]], &s)) return t->hash[k];
        k = (k + 1) & (unsigned)(t->hcap - 1);
    }
    if (t->len == t->cap) {
        int cap = t->cap ? t->cap * 2 : 256;
        symnode *n = realloc(t->n, sizeof *n * (size_t)cap);
        if (!n) return LSCC_SYM_NONE;
        t->n = n;
        t->cap = cap;
    }
    t->n[t->len] = s;
    t->hash[k] = t->len;
    int id = t->len++;
    if (t->len * 2 > t->hcap && rehash(t) != 0) return LSCC_SYM_NONE;
    return id;
}

lscc_sym lscc_sym_const(lscc_symtab *t, double v) {
    if (!isfinite(v) || fabs(v) > EXACT_LIMIT) return LSCC_SYM_NONE;
    symnode s = {LSCC_SYM_CONST, -1, -1, v, v == floor(v)};
    return intern(t, s);
}

lscc_sym lscc_sym_var(lscc_symtab *t, const char *name) {
    int i = lscc_sym_find_var(t, name);
    if (i < 0) {
        char **v = realloc(t->vars, sizeof *v * (size_t)(t->nvars + 1));
        if (!v) return LSCC_SYM_NONE;
        t->vars = v;
        size_t len = strlen(name);
        char *copy = malloc(len + 1);
        if (!copy) return LSCC_SYM_NONE;
        memcpy(copy, name, len + 1);
        v[t->nvars] = copy;
        i = t->nvars++;
    }
    symnode s = {LSCC_SYM_VAR, -1, -1, (double)i, 1};
    return intern(t, s);
}

int lscc_sym_get_const(const lscc_symtab *t, lscc_sym s, double *v) {
    if (s < 0 || s >= t->len || t->n[s].op != LSCC_SYM_CONST) return 0;
    if (v) *v = t->n[s].v;
    return 1;
}

int lscc_sym_is_int(const lscc_symtab *t, lscc_sym s) {
    return s >= 0 && s < t->len && t->n[s].is_int;
}

static int commutative(lscc_sym_op op) {
    return op == LSCC_SYM_ADD || op == LSCC_SYM_MUL || op == LSCC_SYM_MIN || op == LSCC_SYM_MAX;
}

/* Applies a binary op to two known values; -1 when undefined. */
static int apply(lscc_sym_op op, double x, double y, double *r) {
    switch (op) {
    case LSCC_SYM_ADD: *r = x + y; break;
    case LSCC_SYM_SUB: *r = x - y; break;
    case LSCC_SYM_MUL: *r = x * y; break;
    case LSCC_SYM_TDIV:
        if (y == 0) return -1;
        *r = trunc(x / y);
        break;
    case LSCC_SYM_FDIV:
        if (y == 0) return -1;
        *r = floor(x / y);
        break;
    case LSCC_SYM_RDIV:
        if (y == 0) return -1;
        *r = x / y;
        break;
    case LSCC_SYM_MOD:
        if (y == 0) return -1;
        *r = x - y * floor(x / y);
        break;
    case LSCC_SYM_MIN: *r = x < y ? x : y; break;
    case LSCC_SYM_MAX: *r = x > y ? x : y; break;
    case LSCC_SYM_FLOOR: *r = floor(x); break;
    case LSCC_SYM_CEIL: *r = ceil(x); break;
    default: return -1;
    }
    if (!isfinite(*r) || fabs(*r) > EXACT_LIMIT) return -1;
    return 0;
}

lscc_sym lscc_sym_un(lscc_symtab *t, lscc_sym_op op, lscc_sym a) {
    if (a < 0) return LSCC_SYM_NONE;
    double x, r;
    if (lscc_sym_get_const(t, a, &x)) return apply(op, x, 0, &r) ? LSCC_SYM_NONE : lscc_sym_const(t, r);
    if (t->n[a].is_int) return a;
    /* floor(p / q) with integer p and positive integer constant q is floor division;
       ceil(p / q) is floor((p + q - 1) / q). */
    if (t->n[a].op == LSCC_SYM_RDIV && t->n[t->n[a].a].is_int) {
        double q;
        if (lscc_sym_get_const(t, t->n[a].b, &q) && q > 0 && q == floor(q)) {
            lscc_sym p = t->n[a].a;
            if (op == LSCC_SYM_CEIL) p = lscc_sym_addc(t, p, q - 1);
            return lscc_sym_bin(t, LSCC_SYM_FDIV, p, t->n[a].b);
        }
    }
    symnode s = {op, a, -1, 0, 1};
    return intern(t, s);
}

lscc_sym lscc_sym_bin(lscc_symtab *t, lscc_sym_op op, lscc_sym a, lscc_sym b) {
    if (a < 0 || b < 0) return LSCC_SYM_NONE;
    double x = 0, y = 0, r;
    int ca = lscc_sym_get_const(t, a, &x), cb = lscc_sym_get_const(t, b, &y);
    if (ca && cb) return apply(op, x, y, &r) ? LSCC_SYM_NONE : lscc_sym_const(t, r);
    if (op == LSCC_SYM_SUB) {
        if (a == b) return lscc_sym_const(t, 0);
        if (cb) return lscc_sym_addc(t, a, -y);
    }
    if (commutative(op) && (ca || (!cb && a > b))) { /* constant to the right, else order by id */
        lscc_sym s = a; a = b; b = s;
        double v = x; x = y; y = v;
        int c = ca; ca = cb; cb = c;
    }
    int ia = t->n[a].is_int, ib = t->n[b].is_int;
    switch (op) {
    case LSCC_SYM_ADD:
        if (cb && y == 0) return a;
        if (cb && t->n[a].op == LSCC_SYM_ADD && lscc_sym_get_const(t, t->n[a].b, &x))
            return lscc_sym_addc(t, t->n[a].a, x + y);
        break;
    case LSCC_SYM_MUL:
        if (cb && y == 1) return a;
        if (cb && y == 0 && ia) return b;
        if (cb && t->n[a].op == LSCC_SYM_MUL && lscc_sym_get_const(t, t->n[a].b, &x))
            return lscc_sym_mulc(t, t->n[a].a, x * y);
        break;
    case LSCC_SYM_TDIV:
    case LSCC_SYM_FDIV:
        if (cb && y == 1 && ia) return a;
        if (cb && y == 0) return LSCC_SYM_NONE;
        /* floor(floor(p / q) / r) == floor(p / (q r)) for positive integers q, r */
        if (op == LSCC_SYM_FDIV && cb && y > 0 && ib && t->n[a].op == LSCC_SYM_FDIV &&
            lscc_sym_get_const(t, t->n[a].b, &x) && x > 0)
            return lscc_sym_bin(t, LSCC_SYM_FDIV, t->n[a].a, lscc_sym_const(t, x * y));
        break;
    case LSCC_SYM_RDIV:
        if (cb && y == 1) return a;
        if (cb && y == 0) return LSCC_SYM_NONE;
        break;
    case LSCC_SYM_MIN:
    case LSCC_SYM_MAX:
        if (a == b) return a;
        break;
    default: break;
    }
    symnode s = {op, a, b, 0, 0};
    switch (op) {
    case LSCC_SYM_ADD: case LSCC_SYM_SUB: case LSCC_SYM_MUL: case LSCC_SYM_MIN: case LSCC_SYM_MAX:
        s.is_int = ia && ib;
        break;
    case LSCC_SYM_TDIV: case LSCC_SYM_FDIV: case LSCC_SYM_MOD:
        s.is_int = 1;
        break;
    default: s.is_int = 0;
    }
    return intern(t, s);
}

lscc_sym lscc_sym_addc(lscc_symtab *t, lscc_sym a, double c) {
    return lscc_sym_bin(t, LSCC_SYM_ADD, a, lscc_sym_const(t, c));
}

lscc_sym lscc_sym_mulc(lscc_symtab *t, lscc_sym a, double c) {
    return lscc_sym_bin(t, LSCC_SYM_MUL, a, lscc_sym_const(t, c));
}

int lscc_sym_nvars(const lscc_symtab *t) { return t->nvars; }

const char *lscc_sym_var_name(const lscc_symtab *t, int var) {
    return var >= 0 && var < t->nvars ? t->vars[var] : "?";
}

int lscc_sym_find_var(const lscc_symtab *t, const char *name) {
    for (int i = 0; i < t->nvars; i++)
        if (strcmp(t->vars[i], name) == 0) return i;
    return -1;
}

static int eval_rec(lscc_symtab *t, lscc_sym s, const double *vars, double *out) {
    if (t->memo_gen[s] == t->gen) {
        *out = t->memo[s];
        return 0;
    }
    const symnode *n = &t->n[s];
    double x = 0, y = 0;
    switch (n->op) {
    case LSCC_SYM_CONST: *out = n->v; break;
    case LSCC_SYM_VAR: *out = vars[(int)n->v]; break;
    case LSCC_SYM_FLOOR:
    case LSCC_SYM_CEIL:
        if (eval_rec(t, n->a, vars, &x) || apply(n->op, x, 0, out)) return -1;
        break;
    default:
        if (eval_rec(t, n->a, vars, &x) || eval_rec(t, n->b, vars, &y) || apply(n->op, x, y, out))
            return -1;
    }
    t->memo[s] = *out;
    t->memo_gen[s] = t->gen;
    return 0;
}

int lscc_sym_eval(const lscc_symtab *ct, lscc_sym s, const double *vars, double *out) {
    lscc_symtab *t = (lscc_symtab *)ct; /* only the memo changes */
    if (s < 0 || s >= t->len) return -1;
    if (t->memo_cap < t->len) {
        double *m = realloc(t->memo, sizeof *m * (size_t)t->cap);
        if (!m) return -1;
        t->memo = m;
        unsigned *g = realloc(t->memo_gen, sizeof *g * (size_t)t->cap);
        if (!g) return -1;
        memset(g, 0, sizeof *g * (size_t)t->cap);
        t->memo_gen = g;
        t->memo_cap = t->cap;
        t->gen = 0;
    }
    if (++t->gen == 0) { /* wrapped: clear stamps */
        memset(t->memo_gen, 0, sizeof *t->memo_gen * (size_t)t->memo_cap);
        t->gen = 1;
    }
    return eval_rec(t, s, vars, out);
}

int lscc_sym_same(const lscc_symtab *t, lscc_sym a, lscc_sym b) {
    if (a == b) return a >= 0;
    if (a < 0 || b < 0) return 0;
    double vars[64];
    int nv = t->nvars < 64 ? t->nvars : 64, agree = 0;
    for (int k = 0; k < 12; k++) {
        for (int i = 0; i < nv; i++) /* spread of sizes, odd and even, small and large */
            vars[i] = (double)(1 + ((k * 7919 + i * 104729 + 17) % (k < 6 ? 97 : 20011)) + k * 64);
        double x, y;
        if (lscc_sym_eval(t, a, vars, &x) || lscc_sym_eval(t, b, vars, &y)) continue;
        if (x != y) return 0;
        agree++;
    }
    return agree > 0;
}

static int prec(lscc_sym_op op) {
    switch (op) {
    case LSCC_SYM_ADD: case LSCC_SYM_SUB: return 1;
    case LSCC_SYM_MUL: case LSCC_SYM_TDIV: case LSCC_SYM_FDIV: case LSCC_SYM_RDIV: case LSCC_SYM_MOD: return 2;
    default: return 3;
    }
}

typedef struct { char *buf; size_t n, len; } pbuf;

static void put(pbuf *p, const char *s) {
    size_t l = strlen(s);
    if (p->len < p->n) {
        size_t room = p->n - p->len - 1;
        memcpy(p->buf + p->len, s, l < room ? l : room);
        p->buf[p->len + (l < room ? l : room)] = 0;
    }
    p->len += l;
}

static void print_rec(const lscc_symtab *t, lscc_sym s, pbuf *p, int outer) {
    if (s < 0 || s >= t->len) {
        put(p, "?");
        return;
    }
    const symnode *n = &t->n[s];
    char tmp[64];
    const char *fn = NULL, *infix = NULL;
    switch (n->op) {
    case LSCC_SYM_CONST:
        if (n->is_int) snprintf(tmp, sizeof tmp, "%.0f", n->v);
        else snprintf(tmp, sizeof tmp, "%.17g", n->v);
        put(p, tmp);
        return;
    case LSCC_SYM_VAR: put(p, lscc_sym_var_name(t, (int)n->v)); return;
    case LSCC_SYM_FLOOR: fn = "floor"; break;
    case LSCC_SYM_CEIL: fn = "ceil"; break;
    case LSCC_SYM_MIN: fn = "min"; break;
    case LSCC_SYM_MAX: fn = "max"; break;
    case LSCC_SYM_ADD: infix = " + "; break;
    case LSCC_SYM_SUB: infix = " - "; break;
    case LSCC_SYM_MUL: infix = "*"; break;
    case LSCC_SYM_TDIV: infix = " tdiv "; break;
    case LSCC_SYM_FDIV: infix = "/"; break;
    case LSCC_SYM_RDIV: infix = " ./ "; break;
    case LSCC_SYM_MOD: infix = " % "; break;
    }
    if (fn) {
        put(p, fn);
        put(p, "(");
        print_rec(t, n->a, p, 0);
        if (n->b >= 0) {
            put(p, ", ");
            print_rec(t, n->b, p, 0);
        }
        put(p, ")");
        return;
    }
    double c;
    int pr = prec(n->op), paren = pr < outer;
    if (paren) put(p, "(");
    print_rec(t, n->a, p, pr);
    if (n->op == LSCC_SYM_ADD && lscc_sym_get_const(t, n->b, &c) && c < 0) {
        snprintf(tmp, sizeof tmp, " - %.17g", -c);
        put(p, tmp);
    } else {
        put(p, infix);
        print_rec(t, n->b, p, pr + 1);
    }
    if (paren) put(p, ")");
}

size_t lscc_sym_print(const lscc_symtab *t, lscc_sym s, char *buf, size_t n) {
    pbuf p = {buf, n, 0};
    if (n) buf[0] = 0;
    print_rec(t, s, &p, 0);
    return p.len;
}

int lscc_sym_node(const lscc_symtab *t, lscc_sym s, lscc_sym_op *op, lscc_sym *a, lscc_sym *b, double *v) {
    if (s < 0 || s >= t->len) return -1;
    *op = t->n[s].op;
    *a = t->n[s].a;
    *b = t->n[s].b;
    *v = t->n[s].v;
    return 0;
}
