/*
 * ECDSA verification over a precomputed digest, which node:crypto cannot do
 * (crypto.verify always hashes its input). OpenSSL comes from the node binary
 * itself, whose headers node-gyp compiles against.
 *
 *   parseKey(spkiDer: Buffer): External   -- throws on a key that does not parse
 *   verify(key: External, digest: Buffer, derSignature: Buffer): boolean
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

static void free_key(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EVP_PKEY_free((EVP_PKEY *)data);
}

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, "ERR_SIGIL_NATIVE", msg);
  return NULL;
}

static int get_buffer(napi_env env, napi_value v, const unsigned char **data, size_t *len) {
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer) return 0;
  void *p = NULL;
  if (napi_get_buffer_info(env, v, &p, len) != napi_ok) return 0;
  *data = (const unsigned char *)p;
  return 1;
}

static napi_value parse_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const unsigned char *der;
  size_t len;
  if (argc < 1 || !get_buffer(env, argv[0], &der, &len)) return throw_error(env, "expected a Buffer");
  const unsigned char *p = der;
  EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)len);
  if (key == NULL || p != der + len) {
    EVP_PKEY_free(key);
    return throw_error(env, "public key does not parse");
  }
  napi_value ext;
  if (napi_create_external(env, key, free_key, NULL, &ext) != napi_ok) {
    EVP_PKEY_free(key);
    return throw_error(env, "cannot wrap key");
  }
  return ext;
}

static napi_value verify(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_error(env, "expected (key, digest, signature)");
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t != napi_external) return throw_error(env, "expected a parsed key");
  void *keyp = NULL;
  napi_get_value_external(env, argv[0], &keyp);
  const unsigned char *digest, *sig;
  size_t digest_len, sig_len;
  if (!get_buffer(env, argv[1], &digest, &digest_len) || !get_buffer(env, argv[2], &sig, &sig_len))
    return throw_error(env, "expected Buffers");
  int ok = 0;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new((EVP_PKEY *)keyp, NULL);
  if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1) {
    ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1;
  }
  EVP_PKEY_CTX_free(ctx);
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "parseKey", NAPI_AUTO_LENGTH, parse_key, NULL, &fn);
  napi_set_named_property(env, exports, "parseKey", fn);
  napi_create_function(env, "verify", NAPI_AUTO_LENGTH, verify, NULL, &fn);
  napi_set_named_property(env, exports, "verify", fn);
  return exports;
}
