/* test_json.c - the validating scanner, the walkers over validated input,
 * unescaping, number conversion and compaction. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "json.h"

/* A sample payload from tests/data. */
static char *slurp(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", SR_TEST_DATA, name);
    return check_read_file(path, len);
}

static int validate(const char *s, size_t n, sr_json_error *err) {
    return sr_json_validate(s, n, SR_JSON_DEFAULT_MAX_DEPTH, err);
}

static void expect_valid_n(const char *s, size_t n, int line) {
    sr_json_error err = {0};
    if (validate(s, n, &err) != 0) {
        fprintf(stderr, "line %d: \"%.*s\" rejected at %zu: %s\n", line, (int)n, s, err.offset,
                err.msg);
        check_failed_++;
    } else {
        check_passed_++;
    }
}

/* Rejected at byte `off` with a message containing `msg`. */
static void expect_invalid_n(const char *s, size_t n, size_t off, const char *msg, int line) {
    sr_json_error err = {0};
    int rc = validate(s, n, &err);
    if (rc != -1 || err.offset != off || !strstr(err.msg, msg)) {
        fprintf(stderr,
                "line %d: \"%.*s\": rc %d offset %zu msg \"%s\", expected offset %zu \"%s\"\n",
                line, (int)n, s, rc, err.offset, err.msg, off, msg);
        check_failed_++;
    } else {
        check_passed_++;
    }
}

#define VALID(s)               expect_valid_n((s), strlen(s), __LINE__)
#define INVALID(s, off, msg)   expect_invalid_n((s), strlen(s), (off), (msg), __LINE__)
#define INVALID_N(s, off, msg) expect_invalid_n((s), sizeof(s) - 1, (off), (msg), __LINE__)

static void test_valid_documents(void) {
    VALID("{}");
    VALID("[]");
    VALID("0");
    VALID("-0");
    VALID("12");
    VALID("-1.5e10");
    VALID("1E+2");
    VALID("1e-2");
    VALID("0.000");
    VALID("true");
    VALID("false");
    VALID("null");
    VALID("\"\"");
    VALID(" \t\r\n{ \"a\" : [ 1 , { } , [ ] , \"x\" ] } \n");
    VALID("{\"\":0}");
    VALID("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"");
    VALID("\"\\ud800\""); /* lone surrogate escapes are grammatical */
    VALID("\"\x7f\"");    /* DEL is not a control character to JSON */
    VALID("{\"a\":{\"b\":{\"c\":[1,2,{\"d\":null}]}}}");
    VALID("[1606322948648718268,4294967295,-9223372036854775808]");
}

static void test_grammar_errors(void) {
    INVALID("", 0, "unexpected end of input");
    INVALID("   ", 3, "unexpected end of input");
    INVALID("{", 1, "unexpected end of input");
    INVALID("{\"a\":1", 6, "unexpected end of input");
    INVALID("{\"a\"", 4, "expected ':' after object key");
    INVALID("{\"a\":}", 5, "expected a value");
    INVALID("[1,2", 4, "unexpected end of input");
    INVALID("{\"a\":1 \"b\":2}", 7, "expected ',' or '}' after object member");
    INVALID("[1 2]", 3, "expected ',' or ']' after array element");
    INVALID("{\"a\":1]", 6, "expected ',' or '}' after object member");
    INVALID("[1}", 2, "expected ',' or ']' after array element");
    INVALID("{} x", 3, "unexpected data after the JSON value");
    INVALID("1 2", 2, "unexpected data after the JSON value");
    INVALID("{\"a\":1}}", 7, "unexpected data after the JSON value");
    INVALID("{\"a\":1,}", 7, "trailing comma in object");
    INVALID("[1,]", 3, "trailing comma in array");
    INVALID("[,1]", 1, "expected a value");
    INVALID("{,}", 1, "expected a string as object key");
    INVALID("{a:1}", 1, "expected a string as object key");
    INVALID("{'a':1}", 1, "expected a string as object key");
    INVALID("{1:1}", 1, "expected a string as object key");
    INVALID("['a']", 1, "expected a value");
    INVALID("// c\n{}", 0, "expected a value");
    INVALID("/* c */{}", 0, "expected a value");
    INVALID("{} // c", 3, "unexpected data");
    INVALID("tru", 0, "expected a value");
    INVALID("nul", 0, "expected a value");
    INVALID("True", 0, "expected a value");
    INVALID("NaN", 0, "expected a value");
    INVALID("Infinity", 0, "expected a value");
    INVALID("[-Infinity]", 2, "invalid number");
    INVALID("\xef\xbb\xbf{}", 0, "expected a value"); /* no BOM */
}

static void test_number_errors(void) {
    INVALID("01", 0, "leading zero");
    INVALID("[00]", 1, "leading zero");
    INVALID("-01", 1, "leading zero");
    INVALID("+1", 0, "expected a value");
    INVALID("-", 1, "invalid number");
    INVALID("1.", 2, "digit after '.'");
    INVALID("1.e5", 2, "digit after '.'");
    INVALID(".5", 0, "expected a value");
    INVALID("1e", 2, "exponent");
    INVALID("1e+", 3, "exponent");
    INVALID("0x10", 1, "unexpected data");
    INVALID("[1.5.2]", 4, "expected ',' or ']'");
}

static void test_string_errors(void) {
    INVALID("\"abc", 0, "unterminated string");
    INVALID("{\"a\":\"abcdefghijklmnopqrstuvwxyz", 5, "unterminated string");
    INVALID("\"ab\\", 0, "unterminated string");
    INVALID("\"a\x01\"", 2, "unescaped control character in string");
    INVALID("\"a\tb\"", 2, "unescaped control character in string");
    INVALID("\"a\nb\"", 2, "unescaped control character in string");
    INVALID("\"0123456789\x1f\"", 11, "unescaped control character in string");
    INVALID_N("\"a\0b\"", 2, "unescaped control character in string");
    INVALID("\"\\x\"", 1, "invalid escape");
    INVALID("\"\\'\"", 1, "invalid escape");
    INVALID("\"\\U0041\"", 1, "invalid escape");
    INVALID("\"\\u12G4\"", 1, "invalid \\u escape");
    INVALID("\"\\u12\"", 1, "invalid \\u escape");
    INVALID("\"\\u", 1, "invalid \\u escape");
    INVALID("{\"k\\q\":1}", 3, "invalid escape");
}

static void test_utf8(void) {
    /* Boundaries of each sequence length, all valid. */
    VALID("\"\xc2\x80 \xdf\xbf\"");                                   /* U+0080, U+07FF */
    VALID("\"\xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf\""); /* U+0800, U+D7FF, U+E000,
                                                                         U+FFFF */
    VALID("\"\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"");                   /* U+10000, U+10FFFF */
    VALID("\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"");
    VALID("{\"\xc3\xa9\":\"\xc3\xa9\"}");

    INVALID("\"\xff\"", 1, "invalid UTF-8 in string");
    INVALID("\"\xfe\xff\"", 1, "invalid UTF-8 in string");
    INVALID("\"ab\x80\"", 3, "invalid UTF-8 in string");           /* lone continuation */
    INVALID("\"\xc0\xaf\"", 1, "invalid UTF-8 in string");         /* overlong '/' */
    INVALID("\"\xc1\xbf\"", 1, "invalid UTF-8 in string");         /* overlong */
    INVALID("\"\xe0\x80\xaf\"", 1, "invalid UTF-8 in string");     /* overlong, 3 bytes */
    INVALID("\"\xe0\x9f\xbf\"", 1, "invalid UTF-8 in string");     /* overlong U+07FF */
    INVALID("\"\xf0\x80\x80\xaf\"", 1, "invalid UTF-8 in string"); /* overlong, 4 bytes */
    INVALID("\"\xf0\x8f\xbf\xbf\"", 1, "invalid UTF-8 in string"); /* overlong U+FFFF */
    INVALID("\"\xed\xa0\x80\"", 1, "invalid UTF-8 in string");     /* U+D800 */
    INVALID("\"\xed\xbf\xbf\"", 1, "invalid UTF-8 in string");     /* U+DFFF */
    INVALID("\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8 in string"); /* U+110000 */
    INVALID("\"\xf5\x80\x80\x80\"", 1, "invalid UTF-8 in string");
    INVALID("\"\xe6\x97\"", 1, "invalid UTF-8 in string"); /* truncated by the quote */
    INVALID("\"\xf0\x9f\x98\"", 1, "invalid UTF-8 in string");
    INVALID("\"\xc3", 1, "invalid UTF-8 in string"); /* truncated by the end */
    INVALID("\"\xc3x\"", 1, "invalid UTF-8 in string");
    INVALID("{\"\xff\":1}", 2, "invalid UTF-8 in string"); /* in a key */
    INVALID("\xc3\xa9", 0, "expected a value");            /* outside strings */
}

/* The fast path looks at strings eight bytes at a time: every special byte
 * must be noticed wherever it falls in a word. */
static void test_special_byte_at_every_position(void) {
    static const struct {
        const char *bytes;
        int ok;
    } specials[] = {
        {"\x01", 0}, {"\x1f", 0}, {"\\n", 1}, {"\xc3\xa9", 1}, {"\xff", 0}, {"\x7f", 1}, {" ", 1},
    };
    for (size_t s = 0; s < sizeof specials / sizeof *specials; s++) {
        for (size_t at = 0; at < 40; at++) { /* two 16-byte blocks and the tail */
            char doc[80];
            size_t n = 0;
            doc[n++] = '"';
            for (size_t k = 0; k < at; k++)
                doc[n++] = 'a';
            size_t where = n;
            size_t bl = strlen(specials[s].bytes);
            memcpy(doc + n, specials[s].bytes, bl);
            n += bl;
            for (size_t k = 0; k < 17; k++)
                doc[n++] = 'b';
            doc[n++] = '"';
            sr_json_error err = {0};
            int rc = validate(doc, n, &err);
            if (specials[s].ok) {
                CHECK_INT(rc, 0);
            } else {
                CHECK_INT(rc, -1);
                CHECK_INT(err.offset, where);
            }
        }
        /* And a closing quote at every position. */
        char doc[64];
        for (size_t at = 0; at < 40; at++) {
            size_t n = 0;
            doc[n++] = '"';
            for (size_t k = 0; k < at; k++)
                doc[n++] = 'a';
            doc[n++] = '"';
            expect_valid_n(doc, n, __LINE__);
            sr_json_error err = {0};
            doc[n++] = 'x';
            CHECK_INT(validate(doc, n, &err), -1);
            CHECK_INT(err.offset, n - 1);
        }
    }
    /* Finding a member skips string values by their quotes and escapes
     * alone (validated text): an escaped quote at every position. */
    for (size_t at = 0; at < 40; at++) {
        char doc[96];
        int n = snprintf(doc, sizeof doc, "{\"k\":\"%.*s\\\"%s\",\"x\":7}", (int)at,
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbb");
        sr_json_member m;
        CHECK(sr_json_object_get(doc, (size_t)n, "x", 1, &m));
        CHECK_INT(m.val_len, 1);
        CHECK(doc[m.val_off] == '7');
    }
}

static char *nested(int levels, char open, char close) {
    char *s = malloc((size_t)levels * 2 + 1);
    memset(s, open, (size_t)levels);
    memset(s + levels, close, (size_t)levels);
    s[levels * 2] = '\0';
    return s;
}

static void test_depth(void) {
    sr_json_error err = {0};
    char *s = nested(64, '[', ']');
    CHECK_INT(sr_json_validate(s, strlen(s), 64, &err), 0);
    free(s);
    s = nested(65, '[', ']');
    CHECK_INT(sr_json_validate(s, strlen(s), 64, &err), -1);
    CHECK_STR(err.msg, "nesting deeper than 64");
    CHECK_INT(err.offset, 64);
    CHECK_INT(sr_json_validate(s, strlen(s), 65, &err), 0);
    CHECK_INT(sr_json_validate(s, strlen(s), 0, &err), -1); /* 0 means the default */
    free(s);

    /* Objects count the same way. */
    char obj[64 * 6 + 8] = "";
    for (int k = 0; k < 3; k++)
        strcat(obj, "{\"a\":");
    strcat(obj, "1}}}");
    CHECK_INT(sr_json_validate(obj, strlen(obj), 3, &err), 0);
    CHECK_INT(sr_json_validate(obj, strlen(obj), 2, &err), -1);
    CHECK_STR(err.msg, "nesting deeper than 2");

    /* Hostile depth costs an error, not the stack. */
    s = nested(1000000, '[', ']');
    CHECK_INT(sr_json_validate(s, strlen(s), 64, &err), -1);
    CHECK_INT(err.offset, 64);
    CHECK_INT(sr_json_validate(s, strlen(s), 1 << 30, &err), -1); /* clamped to the stack */
    free(s);
}

static void test_index_object(void) {
    const char *doc =
        " {\"a\":1, \"b\" : [ 1, 2 ],\"c\":{\"x\":\"y z\"},\"d\\u002e\":\"s\",\"e\":[]} ";
    sr_json_member m[8];
    sr_json_error err = {0};
    int n = sr_json_index_object(doc, strlen(doc), 64, m, 8, &err);
    CHECK_INT(n, 5);
    CHECK_MEM(doc + m[0].key_off, m[0].key_len, "a");
    CHECK_MEM(doc + m[0].val_off, m[0].val_len, "1");
    CHECK_INT(m[0].type, SR_JSON_NUMBER);
    CHECK_INT(m[0].val_has_ws, 0);
    CHECK_MEM(doc + m[1].key_off, m[1].key_len, "b");
    CHECK_MEM(doc + m[1].val_off, m[1].val_len, "[ 1, 2 ]");
    CHECK_INT(m[1].type, SR_JSON_ARRAY);
    CHECK_INT(m[1].val_has_ws, 1);
    CHECK_MEM(doc + m[2].val_off, m[2].val_len, "{\"x\":\"y z\"}");
    CHECK_INT(m[2].type, SR_JSON_OBJECT);
    CHECK_INT(m[2].val_has_ws, 0); /* a space inside a string does not count */
    CHECK_MEM(doc + m[3].key_off, m[3].key_len, "d\\u002e");
    CHECK_INT(m[3].key_escaped, 1);
    CHECK_INT(m[0].key_escaped, 0);
    CHECK_MEM(doc + m[3].val_off, m[3].val_len, "\"s\"");
    CHECK_INT(m[3].type, SR_JSON_STRING);
    CHECK_MEM(doc + m[4].val_off, m[4].val_len, "[]");

    const char *lits = "{\"t\":true,\"f\":false,\"n\":null}";
    CHECK_INT(sr_json_index_object(lits, strlen(lits), 64, m, 8, &err), 3);
    CHECK_INT(m[0].type, SR_JSON_TRUE);
    CHECK_INT(m[1].type, SR_JSON_FALSE);
    CHECK_INT(m[2].type, SR_JSON_NULL);
    CHECK_MEM(lits + m[2].val_off, m[2].val_len, "null");

    CHECK_INT(sr_json_index_object("{}", 2, 64, m, 8, &err), 0);
    CHECK_INT(sr_json_index_object("{\"a\":1,\"b\":2}", 13, 64, m, 2, &err), 2);
    CHECK_INT(sr_json_index_object("{\"a\":1,\"b\":2,\"c\":3}", 19, 64, m, 2, &err), -1);
    CHECK_STR(err.msg, "too many top-level fields");
    CHECK_INT(err.offset, 13);

    static const char *const not_objects[] = {"[1]", "5", "\"s\"", "null", "", "  "};
    for (size_t k = 0; k < sizeof not_objects / sizeof *not_objects; k++) {
        CHECK_INT(sr_json_index_object(not_objects[k], strlen(not_objects[k]), 64, m, 8, &err), -1);
        CHECK_STR(err.msg, "expected a JSON object");
    }
    /* Errors after the opening brace are the scanner's. */
    CHECK_INT(sr_json_index_object("{\"a\":1,}", 8, 64, m, 8, &err), -1);
    CHECK_STR(err.msg, "trailing comma in object");
}

static void test_walkers(void) {
    const char *obj = "{ \"a\" : 1 , \"b\":{ \"c\" : [ 1 ] },\"k\\u002ey\":\"v\",\"a\":2 }";
    size_t n = strlen(obj), pos = 0;
    sr_json_member m;
    CHECK_INT(sr_json_object_next(obj, n, &pos, &m), 1);
    CHECK_MEM(obj + m.key_off, m.key_len, "a");
    CHECK_MEM(obj + m.val_off, m.val_len, "1");
    CHECK_INT(sr_json_object_next(obj, n, &pos, &m), 1);
    CHECK_MEM(obj + m.key_off, m.key_len, "b");
    CHECK_MEM(obj + m.val_off, m.val_len, "{ \"c\" : [ 1 ] }");
    CHECK_INT(m.type, SR_JSON_OBJECT);
    CHECK_INT(m.val_has_ws, 1);
    CHECK_INT(sr_json_object_next(obj, n, &pos, &m), 1);
    CHECK_INT(m.key_escaped, 1);
    CHECK_INT(sr_json_object_next(obj, n, &pos, &m), 1);
    CHECK_MEM(obj + m.val_off, m.val_len, "2");
    CHECK_INT(sr_json_object_next(obj, n, &pos, &m), 0);
    CHECK_INT(sr_json_object_next(obj, n, &pos, &m), 0);

    /* Keys compare decoded; a repeated key yields its last value. */
    CHECK_INT(sr_json_object_get(obj, n, "k.y", 3, &m), 1);
    CHECK_MEM(obj + m.val_off, m.val_len, "\"v\"");
    CHECK_INT(sr_json_object_get(obj, n, "k\\u002ey", 8, &m), 0);
    CHECK_INT(sr_json_object_get(obj, n, "a", 1, &m), 1);
    CHECK_MEM(obj + m.val_off, m.val_len, "2");
    CHECK_INT(sr_json_object_get(obj, n, "c", 1, &m), 0); /* not a top-level key */
    CHECK_INT(sr_json_object_get(obj, n, "", 0, &m), 0);
    CHECK_INT(sr_json_object_get("{}", 2, "a", 1, &m), 0);
    CHECK_INT(sr_json_object_get("{\"\":5}", 6, "", 0, &m), 1);

    const char *arr = "[ 1, \"a,]\" ,{\"x\":[]},[[]],-2.5e3,true ]";
    n = strlen(arr);
    pos = 0;
    static const char *const want[] = {"1", "\"a,]\"", "{\"x\":[]}", "[[]]", "-2.5e3", "true"};
    static const int types[] = {SR_JSON_NUMBER, SR_JSON_STRING, SR_JSON_OBJECT,
                                SR_JSON_ARRAY,  SR_JSON_NUMBER, SR_JSON_TRUE};
    for (size_t k = 0; k < 6; k++) {
        CHECK_INT(sr_json_array_next(arr, n, &pos, &m), 1);
        CHECK_MEM(arr + m.val_off, m.val_len, want[k]);
        CHECK_INT(m.type, types[k]);
        CHECK_INT(m.key_len, 0);
    }
    CHECK_INT(sr_json_array_next(arr, n, &pos, &m), 0);
    pos = 0;
    CHECK_INT(sr_json_array_next("[]", 2, &pos, &m), 0);
    pos = 0;
    CHECK_INT(sr_json_array_next("[ ]", 3, &pos, &m), 0);

    CHECK(sr_json_key_equals("a\\/b", 4, "a/b", 3));
    CHECK(sr_json_key_equals("\\u00e9", 6, "\xc3\xa9", 2));
    CHECK(!sr_json_key_equals("\\u00e9", 6, "\xc3\xa9x", 3));
    CHECK(!sr_json_key_equals("ab", 2, "a", 1));
    CHECK(sr_json_key_equals("", 0, "", 0));
}

static void check_unescape(const char *in, int quoted, const char *want, size_t want_len,
                           int line) {
    sr_buf b = SR_BUF_INIT;
    sr_buf_puts(&b, "pre:");
    int rc = sr_json_unescape(in, strlen(in), quoted, &b);
    if (rc != 0 || b.len != 4 + want_len || memcmp(b.data + 4, want, want_len) != 0) {
        fprintf(stderr, "line %d: unescape(%s) gave rc %d \"%.*s\"\n", line, in, rc, (int)b.len,
                b.data);
        check_failed_++;
    } else {
        check_passed_++;
    }
    sr_buf_free(&b);
}

#define UNESCAPE(in, q, want) check_unescape((in), (q), (want), sizeof(want) - 1, __LINE__)

static void test_unescape(void) {
    UNESCAPE("\"plain\"", 1, "plain");
    UNESCAPE("\"\"", 1, "");
    UNESCAPE("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", 1, "a\"b\\c/d\be\ff\ng\rh\ti");
    UNESCAPE("\"\\u0041\\u00e9\\u00E9\\u20ac\"", 1, "A\xc3\xa9\xc3\xa9\xe2\x82\xac");
    UNESCAPE("\"\\ud83d\\ude00\"", 1, "\xf0\x9f\x98\x80"); /* pair */
    UNESCAPE("\"\\uDBFF\\uDFFF\"", 1, "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    UNESCAPE("\"\\ud800\"", 1, "\xef\xbf\xbd");            /* lone high */
    UNESCAPE("\"\\udc00x\"", 1, "\xef\xbf\xbdx");          /* lone low */
    UNESCAPE("\"\\ud800\\u0041\"", 1,
             "\xef\xbf\xbd"
             "A"); /* high, then not low */
    UNESCAPE("\"\\ud800\\ud800\\udc00\"", 1, "\xef\xbf\xbd\xf0\x90\x80\x80");
    UNESCAPE("\"\\ude00\\ud83d\"", 1, "\xef\xbf\xbd\xef\xbf\xbd"); /* pair reversed */
    UNESCAPE("\"\\u0000\"", 1, "\0");
    UNESCAPE("\"caf\xc3\xa9\"", 1, "caf\xc3\xa9");
    UNESCAPE("k\\u002ey", 0, "k.y");
}

static void check_int64(const char *s, int rc_want, int64_t want, int line) {
    int64_t v = 12345;
    int rc = sr_json_to_int64(s, strlen(s), &v);
    if (rc != rc_want || (rc == 0 && v != want)) {
        fprintf(stderr, "line %d: to_int64(%s) = %d, %" PRId64 "\n", line, s, rc, v);
        check_failed_++;
    } else {
        check_passed_++;
    }
}

#define INT64_OK(s, v) check_int64((s), 0, (v), __LINE__)
#define INT64_BAD(s)   check_int64((s), -1, 0, __LINE__)

static void test_numbers(void) {
    INT64_OK("0", 0);
    INT64_OK("-0", 0);
    INT64_OK("42", 42);
    INT64_OK("-42", -42);
    INT64_OK("4294967295", 4294967295LL);
    INT64_OK("1606322948648718268", 1606322948648718268LL);
    INT64_OK("9223372036854775807", INT64_MAX);
    INT64_OK("-9223372036854775808", INT64_MIN);
    INT64_OK("-9223372036854775807", -INT64_MAX);
    INT64_BAD("9223372036854775808");
    INT64_BAD("-9223372036854775809");
    INT64_BAD("18446744073709551616");
    INT64_BAD("99999999999999999999999");
    INT64_BAD("1.0");
    INT64_BAD("1e3");
    INT64_BAD("1E3");
    INT64_BAD("-");
    INT64_BAD("");
    INT64_BAD("true");

    double d = 0;
    CHECK_INT(sr_json_to_double("1.5", 3, &d), 0);
    CHECK(d == 1.5);
    CHECK_INT(sr_json_to_double("-2.5e3", 6, &d), 0);
    CHECK(d == -2500.0);
    CHECK_INT(sr_json_to_double("1606322948648718268", 19, &d), 0);
    CHECK(d == 1606322948648718268.0);
    CHECK_INT(sr_json_to_double("1e400", 5, &d), -1);
    CHECK_INT(sr_json_to_double("1e-400", 6, &d), 0);
    CHECK(d == 0.0);
    /* Longer than the on-stack copy. */
    char lng[200];
    memset(lng, '0', sizeof lng);
    lng[0] = '1';
    lng[1] = '.';
    CHECK_INT(sr_json_to_double(lng, sizeof lng, &d), 0);
    CHECK(d == 1.0);
    /* Only the given bytes count, not what follows them. */
    CHECK_INT(sr_json_to_double("12,", 2, &d), 0);
    CHECK(d == 12.0);
}

static void test_compact(void) {
    const char *pretty = "{\n  \"a b\" : [ 1 , \"x \\\" y\" ],\n\t\"c\":{ } ,\"d\":\"\\\\\" }\n";
    sr_buf b = SR_BUF_INIT;
    sr_buf_puts(&b, ">");
    CHECK_INT(sr_json_compact(pretty, strlen(pretty), &b), 0);
    CHECK_STR(b.data, ">{\"a b\":[1,\"x \\\" y\"],\"c\":{},\"d\":\"\\\\\"}");
    sr_buf_reset(&b);
    CHECK_INT(sr_json_compact("\"  \"", 4, &b), 0);
    CHECK_STR(b.data, "\"  \"");
    sr_buf_free(&b);
}

static const char *const samples[] = {
    "audit_command.json", "audit_file.json",     "audit_kube_exec.json",
    "audit_network.json", "platform_audit.json", "policy_event.json",
};

static void test_samples(void) {
    for (size_t k = 0; k < sizeof samples / sizeof *samples; k++) {
        size_t n = 0;
        char *text = slurp(samples[k], &n);
        CHECK(text != NULL);
        if (!text)
            continue;
        sr_json_error err = {0};
        CHECK_INT(validate(text, n, &err), 0);
        sr_buf c = SR_BUF_INIT;
        CHECK_INT(sr_json_compact(text, n, &c), 0);
        CHECK_INT(validate(c.data, c.len, &err), 0);
        CHECK(c.len < n);
        CHECK(memchr(c.data, '\n', c.len) == NULL);
        sr_json_member m[64];
        int nm = sr_json_index_object(c.data, c.len, 64, m, 64, &err);
        CHECK(nm > 5);
        for (int i = 0; i < nm; i++)
            CHECK_INT(m[i].val_has_ws, 0);
        sr_buf_free(&c);
        free(text);
    }

    size_t n = 0;
    char *text = slurp("audit_network.invalid-as-published.json", &n);
    CHECK(text != NULL);
    if (text) {
        sr_json_error err = {0};
        CHECK_INT(validate(text, n, &err), -1);
        const char *tty = strstr(text, "\"tty\"");
        CHECK_INT(err.offset, (size_t)(tty - text));
        CHECK_STR(err.msg, "expected ',' or '}' after object member");
        free(text);
    }
}

/* Cheap xorshift so runs are reproducible. */
static uint32_t next_rand(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Random damage to real documents: the scanner must never read out of
 * bounds (ASan watches), and whatever it accepts the walkers and the
 * compactor must handle into something it accepts again. */
static void test_mutations(void) {
    size_t n = 0;
    char *text = slurp("policy_event.json", &n);
    CHECK(text != NULL);
    if (!text)
        return;
    static const char bytes[] = "{}[]\",:\\ \n0-.eE\x80\xc3\xff\x01tfnu";
    uint32_t seed = 0x9e3779b9u;
    int accepted = 0, bad = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = n - next_rand(&seed) % 64;
        char *doc = malloc(len);
        memcpy(doc, text, len);
        for (int k = next_rand(&seed) % 3; k >= 0; k--)
            doc[next_rand(&seed) % len] = bytes[next_rand(&seed) % (sizeof bytes - 1)];
        sr_json_error err = {0};
        if (validate(doc, len, &err) == 0) {
            accepted++;
            sr_buf c = SR_BUF_INIT;
            sr_json_member m[128];
            if (sr_json_compact(doc, len, &c) != 0 || validate(c.data, c.len, &err) != 0 ||
                sr_json_index_object(c.data, c.len, 64, m, 128, &err) < 0)
                bad++;
            sr_buf_free(&c);
        } else if (err.offset > len || !err.msg[0]) {
            bad++;
        }
        free(doc);
    }
    CHECK(accepted > 0);
    CHECK_INT(bad, 0);
    free(text);
}

int main(void) {
    test_valid_documents();
    test_grammar_errors();
    test_number_errors();
    test_string_errors();
    test_utf8();
    test_special_byte_at_every_position();
    test_depth();
    test_index_object();
    test_walkers();
    test_unescape();
    test_numbers();
    test_compact();
    test_samples();
    test_mutations();
    return CHECK_DONE();
}
