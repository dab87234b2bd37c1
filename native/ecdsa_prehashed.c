/*
 * ECDSA verification over a precomputed digest, which node:crypto cannot do
 * (crypto.verify always hashes its input). OpenSSL comes from the node binary
 * itself, whose headers node-gyp compiles against.
 *
 *   parseKey(spkiDer: Buffer): External   -- throws on a key that does not parse
 *   parseEcPoint(bits: 256|384|521, point: Buffer): External
 *                                         -- an uncompressed point on a NIST curve; throws when
 *                                            it is not on the curve
 *   verify(key: External, digest: Buffer, derSignature: Buffer): boolean
 *   parsePrivateEcKey(pkcs8Der: Buffer): External
 *                                         -- an EC private key, for signDigest; freed (and its
 *                                            scalar cleared) when the External is collected
 *   signDigest(key: External, digest: Buffer): Buffer   -- a DER ECDSA signature
 *
 * signDigest exists for speed too: node:crypto's sign() sets up a fresh EVP context per call,
 * about half as much again as the signature itself; a log signs one SET per entry.
 * parseEcPoint exists for speed: OpenSSL 3 parses a DER key through its decoder framework,
 * which costs about thirty times an ECDSA verification; a raw point goes straight into an
 * EC_KEY (the deprecated-in-3.0 EC API, still built into Node's OpenSSL).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdlib.h>
#include <node_api.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

/* What an External holds: one of two key representations. */
typedef struct {
  EVP_PKEY *pkey;
  EC_KEY *ec;
} sigil_key;

static void free_key(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sigil_key *k = (sigil_key *)data;
  EVP_PKEY_free(k->pkey);
  EC_KEY_free(k->ec);
  free(k);
}

static napi_value wrap_key(napi_env env, EVP_PKEY *pkey, EC_KEY *ec);

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

/* The key an External made by wrap_key holds; NULL for any other value. */
static sigil_key *get_key(napi_env env, napi_value v) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return (sigil_key *)p;
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
  return wrap_key(env, key, NULL);
}

static napi_value wrap_key(napi_env env, EVP_PKEY *pkey, EC_KEY *ec) {
  sigil_key *k = (sigil_key *)malloc(sizeof(sigil_key));
  napi_value ext;
  if (k == NULL) {
    EVP_PKEY_free(pkey);
    EC_KEY_free(ec);
    return throw_error(env, "out of memory");
  }
  k->pkey = pkey;
  k->ec = ec;
  if (napi_create_external(env, k, free_key, NULL, &ext) != napi_ok) {
    free_key(env, k, NULL);
    return throw_error(env, "cannot wrap key");
  }
  return ext;
}

/*
 * The three curves' groups, built once per thread (napi instance data: each worker thread has its
 * own, so nothing is shared between threads). EC_KEY_new_by_curve_name builds the group from the
 * curve's parameters every time (its generator, Montgomery data, the order's inverse): four
 * fifths of parseEcPoint. EC_KEY_set_group copies a built one instead.
 */
typedef struct {
  EC_GROUP *p256, *p384, *p521;
} sigil_groups;

static void free_groups(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sigil_groups *g = (sigil_groups *)data;
  EC_GROUP_free(g->p256);
  EC_GROUP_free(g->p384);
  EC_GROUP_free(g->p521);
  free(g);
}

static const EC_GROUP *curve_group(napi_env env, int nid) {
  sigil_groups *g = NULL;
  if (napi_get_instance_data(env, (void **)&g) != napi_ok) return NULL;
  if (g == NULL) {
    g = (sigil_groups *)calloc(1, sizeof(sigil_groups));
    if (g == NULL || napi_set_instance_data(env, g, free_groups, NULL) != napi_ok) {
      free(g);
      return NULL;
    }
  }
  EC_GROUP **slot = nid == NID_X9_62_prime256v1 ? &g->p256 : nid == NID_secp384r1 ? &g->p384 : &g->p521;
  if (*slot == NULL) *slot = EC_GROUP_new_by_curve_name(nid);
  return *slot;
}

static napi_value parse_ec_point(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t bits = 0;
  const unsigned char *point;
  size_t len;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &bits) != napi_ok || !get_buffer(env, argv[1], &point, &len))
    return throw_error(env, "expected (bits, point)");
  int nid = bits == 256 ? NID_X9_62_prime256v1 : bits == 384 ? NID_secp384r1 : bits == 521 ? NID_secp521r1 : NID_undef;
  size_t coord = bits == 521 ? 66 : (size_t)bits / 8;
  if (nid == NID_undef || len != 1 + 2 * coord || point[0] != 0x04) return throw_error(env, "not an uncompressed point of a NIST curve");
  const EC_GROUP *group = curve_group(env, nid);
  EC_KEY *ec = group == NULL ? NULL : EC_KEY_new();
  /* EC_KEY_oct2key refuses a point that is not on the curve. */
  if (ec == NULL || EC_KEY_set_group(ec, group) != 1 || EC_KEY_oct2key(ec, point, len, NULL) != 1) {
    EC_KEY_free(ec);
    return throw_error(env, "public key is not a point on the curve");
  }
  return wrap_key(env, NULL, ec);
}

static napi_value verify(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_error(env, "expected (key, digest, signature)");
  sigil_key *key = get_key(env, argv[0]);
  if (key == NULL) return throw_error(env, "expected a parsed key");
  const unsigned char *digest, *sig;
  size_t digest_len, sig_len;
  if (!get_buffer(env, argv[1], &digest, &digest_len) || !get_buffer(env, argv[2], &sig, &sig_len))
    return throw_error(env, "expected Buffers");
  int ok = 0;
  if (key->ec != NULL) {
    ok = ECDSA_verify(0, digest, (int)digest_len, sig, (int)sig_len, key->ec) == 1;
  } else {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key->pkey, NULL);
    if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1) {
      ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1;
    }
    EVP_PKEY_CTX_free(ctx);
  }
  napi_value result;
  napi_get_boolean(env, ok, &result);
  return result;
}

static napi_value parse_private_ec_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const unsigned char *der;
  size_t len;
  if (argc < 1 || !get_buffer(env, argv[0], &der, &len)) return throw_error(env, "expected a Buffer");
  const unsigned char *p = der;
  EVP_PKEY *pkey = d2i_AutoPrivateKey(NULL, &p, (long)len);
  EC_KEY *ec = pkey == NULL ? NULL : EVP_PKEY_get1_EC_KEY(pkey);
  EVP_PKEY_free(pkey);
  if (ec == NULL) return throw_error(env, "not an EC private key");
  return wrap_key(env, NULL, ec);
}

static napi_value sign_digest(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return throw_error(env, "expected (key, digest)");
  sigil_key *key = get_key(env, argv[0]);
  if (key == NULL) return throw_error(env, "expected a parsed key");
  const unsigned char *digest;
  size_t digest_len;
  if (key->ec == NULL || EC_KEY_get0_private_key(key->ec) == NULL) return throw_error(env, "expected a private key");
  if (!get_buffer(env, argv[1], &digest, &digest_len)) return throw_error(env, "expected a Buffer");
  unsigned char sig[160];
  unsigned int sig_len = 0;
  if ((size_t)ECDSA_size(key->ec) > sizeof(sig) || ECDSA_sign(0, digest, (int)digest_len, sig, &sig_len, key->ec) != 1)
    return throw_error(env, "signing failed");
  napi_value out;
  void *copy = NULL;
  if (napi_create_buffer_copy(env, sig_len, sig, &copy, &out) != napi_ok) return throw_error(env, "out of memory");
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "parsePrivateEcKey", NAPI_AUTO_LENGTH, parse_private_ec_key, NULL, &fn);
  napi_set_named_property(env, exports, "parsePrivateEcKey", fn);
  napi_create_function(env, "signDigest", NAPI_AUTO_LENGTH, sign_digest, NULL, &fn);
  napi_set_named_property(env, exports, "signDigest", fn);
  napi_create_function(env, "parseKey", NAPI_AUTO_LENGTH, parse_key, NULL, &fn);
  napi_set_named_property(env, exports, "parseKey", fn);
  napi_create_function(env, "parseEcPoint", NAPI_AUTO_LENGTH, parse_ec_point, NULL, &fn);
  napi_set_named_property(env, exports, "parseEcPoint", fn);
  napi_create_function(env, "verify", NAPI_AUTO_LENGTH, verify, NULL, &fn);
  napi_set_named_property(env, exports, "verify", fn);
  return exports;
}
