/* The default progress reporter (lscc_progress_print): tiles done of total,
 * rate and time left, on stderr. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lscc_rt.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

static void clock_text(char *buf, size_t n, double s) {
    if (s < 0 || s != s) snprintf(buf, n, "?");
    else if (s < 99.5) snprintf(buf, n, "%.0f s", s);
    else if (s < 3600) snprintf(buf, n, "%d:%02d", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%d:%02d:%02d", (int)(s / 3600), (int)(s / 60) % 60, (int)s % 60);
}

int lscc_progress_print(void *user, const char *phase, int64_t done, int64_t total) {
    lscc_progress_state *ps = user;
    if (!ps) return 0;
    double t = now_s();
    if (!ps->started) {
        memset(ps, 0, sizeof *ps);
        ps->started = 1;
        ps->t0 = t;
        ps->tty = isatty(2);
    }
    /* a new sweep: its own clock, so the rate is this phase's */
    if (done <= 1 || strcmp(ps->phase, phase ? phase : "")) {
        snprintf(ps->phase, sizeof ps->phase, "%s", phase ? phase : "");
        ps->phase_t0 = t;
        ps->last = -1;
        ps->done0 = done; /* the callback comes after a tile: the rate counts from the first report */
    }
    double el = t - ps->phase_t0, rate = done > ps->done0 && el > 0 ? (double)(done - ps->done0) / el : 0;
    /* a live line on a terminal; in a log a line per tenth of the sweep or 30 s */
    int last = done == total;
    int show = ps->tty ? (t - ps->last >= 0.2 || last)
                       : (last || ps->last < 0 || t - ps->last >= 30 || (done * 10 / total) != ((done - 1) * 10 / total));
    if (!show) return 0;
    ps->last = t;
    char eta[32], all[32];
    clock_text(eta, sizeof eta, rate > 0 ? (double)(total - done) / rate : -1);
    clock_text(all, sizeof all, t - ps->t0);
    fprintf(stderr, "%s  %-8s tile %5lld / %-5lld %5.1f%%  %6.2f tiles/s  ETA %-8s elapsed %-8s peak RSS %.0f MB%s",
            ps->tty ? "\r" : "", phase ? phase : "", (long long)done, (long long)total,
            100.0 * (double)done / (double)(total > 0 ? total : 1), rate, eta, all, peak_rss_mb(),
            ps->tty && !last ? "" : "\n");
    fflush(stderr);
    return 0;
}
