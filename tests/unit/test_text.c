/* test_text.c - escaping for each sink (src/base/text.h), the UTF-8 rule
 * shared with the model loader, and saves that must not destroy data
 * (bl_file_write_atomic on links, devices, "-"; bl_model_save refusing
 * metadata its loader would reject). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/text.h"
#include "bnn/model.h"

static void check_str(char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(bl_text_valid_utf8("caf\xc3\xa9", 5));
    assert_false(bl_text_valid_utf8("caf\xe9", 4));
    assert_int_equal(bl_text_utf8_error_at("caf\xe9", 4), 3);
    assert_false(bl_text_valid_utf8("a\0b", 3));           /* NUL */
    assert_false(bl_text_valid_utf8("\xc0\xaf", 2));       /* overlong */
    assert_false(bl_text_valid_utf8("\xed\xa0\x80", 3));   /* surrogate */
    assert_false(bl_text_valid_utf8("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(bl_text_valid_utf8("\xe2\x82", 2));       /* truncated */
    assert_true(bl_text_valid_utf8("\xf0\x9f\x98\x80", 4));
    assert_true(bl_text_valid_utf8("", 0));
}

static void test_terminal(void **state)
{
    (void)state;
    check_str(bl_text_terminal("a\x1b]0;t\x07z", 8), "a\\x1b]0;t\\x07z");
    check_str(bl_text_terminal("l1\nl2\r\t", 7), "l1\\nl2\\r\\t");
    check_str(bl_text_terminal("caf\xc3\xa9 \\ ok", 10), "caf\xc3\xa9 \\ ok");
    check_str(bl_text_terminal("x\xe9y", 3), "x\\xe9y");          /* Latin-1 byte */
    check_str(bl_text_terminal("\xc2\x9b" "2J", 4), "\\xc2\\x9b2J"); /* C1 CSI */
    check_str(bl_text_terminal("\x7f", 1), "\\x7f");
    check_str(bl_text_terminal("a\0b", 3), "a\\x00b");
    char buf[8];
    assert_string_equal(bl_text_terminal_buf("\x1b\x1b\x1b", buf, sizeof buf), "\\x1b\\x1");
    assert_string_equal(bl_text_terminal_buf("ab\xc3\xa9\xc3\xa9xyz", buf, 6), "ab\xc3\xa9");
    assert_null(strchr(bl_text_terminal_buf("\x1b[2J", buf, sizeof buf), 0x1b));
}

static void test_comment_line(void **state)
{
    (void)state;
    check_str(bl_text_comment_line("x\nos.execute('id')\n--", 21),
              "x\\nos.execute('id')\\n--");
    char *c = bl_text_comment_line("a\r\nb\x0b\x0c\x1b", 7);
    assert_non_null(c);
    for (char *p = c; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
    free(c);
}

/* The quoted string, read back by Lua, is the same bytes; one line. */
static void lua_roundtrip(const char *s, size_t n)
{
    char *q = bl_text_lua_quote(s, n);
    assert_non_null(q);
    assert_null(strchr(q, '\n'));
    assert_null(strchr(q, '\r'));
    lua_State *L = luaL_newstate();
    char chunk[4096];
    snprintf(chunk, sizeof chunk, "return %s", q);
    assert_int_equal(luaL_loadbufferx(L, chunk, strlen(chunk), "=q", "t"), LUA_OK);
    assert_int_equal(lua_pcall(L, 0, 1, 0), LUA_OK);
    size_t len;
    const char *back = lua_tolstring(L, -1, &len);
    assert_int_equal(len, n);
    assert_memory_equal(back, s, n);
    lua_close(L);
    free(q);
}

static void test_lua_quote(void **state)
{
    (void)state;
    check_str(bl_text_lua_quote("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
    check_str(bl_text_lua_quote("x\ny", 3), "\"x\\ny\"");
    lua_roundtrip("x\nos.execute('touch /tmp/x')\n--]] \"", 36);
    lua_roundtrip("caf\xe9 \0 \x1b[2J \xc3\xa9 \\\\ \"", 18);
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    lua_roundtrip(all, sizeof all);
    lua_roundtrip("", 0);
}

static void test_csv_field(void **state)
{
    (void)state;
    check_str(bl_text_csv_field("plain", 5), "plain");
    check_str(bl_text_csv_field("a,b", 3), "\"a,b\"");
    check_str(bl_text_csv_field("say \"hi\"", 8), "\"say \"\"hi\"\"\"");
    check_str(bl_text_csv_field("l1\r\nl2", 6), "\"l1\r\nl2\"");
    check_str(bl_text_csv_field(" pad", 4), "\" pad\"");
    check_str(bl_text_csv_field("", 0), "");
}

static char g_dir[] = "/tmp/bl_text_XXXXXX";

static void test_write_through_links_and_devices(void **state)
{
    (void)state;
    char target[256], link[256], dlink[256], dtarget[256];
    snprintf(target, sizeof target, "%s/target", g_dir);
    snprintf(link, sizeof link, "%s/link", g_dir);
    snprintf(dlink, sizeof dlink, "%s/dangling", g_dir);
    snprintf(dtarget, sizeof dtarget, "%s/new", g_dir);
    assert_int_equal(symlink("target", link), 0);    /* relative link */
    bl_error err = { 0 };
    assert_int_equal(bl_file_write_atomic(link, "one", 3, &err), 0);
    assert_int_equal(bl_file_write_atomic(link, "two", 3, &err), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    uint8_t *d;
    size_t n;
    assert_int_equal(bl_file_read(target, 100, &d, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(d, "two", 3);
    free(d);
    /* a dangling link creates its target */
    assert_int_equal(symlink(dtarget, dlink), 0);
    assert_int_equal(bl_file_write_atomic(dlink, "x", 1, &err), 0);
    assert_int_equal(lstat(dlink, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(stat(dtarget, &st), 0);
    /* character devices are written in place, errors reported */
    assert_int_equal(bl_file_write_atomic("/dev/null", "x", 1, &err), 0);
    assert_int_equal(stat("/dev/null", &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    if (stat("/dev/full", &st) == 0) {
        assert_int_not_equal(bl_file_write_atomic("/dev/full", "x", 1, &err), 0);
        assert_non_null(strstr(err.msg, "No space left"));
        assert_true(S_ISCHR(st.st_mode));
    }
    /* a directory is refused, not renamed over */
    assert_int_equal(bl_file_write_atomic(g_dir, "x", 1, &err), BL_EINVAL);
    unlink(link);
    unlink(dlink);
    unlink(target);
    unlink(dtarget);
}

static int refuse(const char *tmp, void *ctx, bl_error *err)
{
    *(int *)ctx = access(tmp, R_OK) == 0;   /* the temporary file exists */
    return bl_error_set(err, BL_EFORMAT, "refused");
}

static void test_checked_write_keeps_old_file(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/kept", g_dir);
    bl_error err = { 0 };
    assert_int_equal(bl_file_write_atomic(path, "old", 3, &err), 0);
    int saw_tmp = 0;
    assert_int_equal(bl_file_write_checked(path, "new", 3, refuse, &saw_tmp, &err), BL_EFORMAT);
    assert_true(saw_tmp);
    uint8_t *d;
    size_t n;
    assert_int_equal(bl_file_read(path, 100, &d, &n, &err), 0);
    assert_memory_equal(d, "old", 3);
    free(d);
    unlink(path);
}

static void test_model_save_refuses_bad_meta(void **state)
{
    (void)state;
    bl_model *m;
    bl_error err = { 0 };
    assert_int_equal(bl_model_from_spec("6-4-3", NULL, &m, &err), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/m.bnn", g_dir);
    assert_int_equal(bl_model_save(m, path, &err), 0);
    uint8_t *before;
    size_t nb;
    assert_int_equal(bl_file_read(path, 1 << 20, &before, &nb, &err), 0);
    bl_model_meta_set(m, "name", "caf\xe9");
    assert_int_not_equal(bl_model_save(m, path, &err), 0);
    assert_non_null(strstr(err.msg, "'name' is not valid UTF-8"));
    bl_model_meta_set(m, "name", "ok");
    bl_model_meta_set(m, "k\xff", "v");
    assert_int_not_equal(bl_model_save(m, path, &err), 0);
    assert_non_null(strstr(err.msg, "key"));
    uint8_t *after;
    size_t na;
    assert_int_equal(bl_file_read(path, 1 << 20, &after, &na, &err), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(after, before, nb);
    free(before);
    free(after);
    bl_model_free(m);
    unlink(path);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(g_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_terminal),
        cmocka_unit_test(test_comment_line),
        cmocka_unit_test(test_lua_quote),
        cmocka_unit_test(test_csv_field),
        cmocka_unit_test(test_write_through_links_and_devices),
        cmocka_unit_test(test_checked_write_keeps_old_file),
        cmocka_unit_test(test_model_save_refuses_bad_meta),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
