#include "ops/self_signed.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "common/openssl_ptr.h"

namespace tsc {
namespace {

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

bool AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert, cert, nullptr, nullptr, 0);
  X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// selfSignedCertificate(commonName, days) -> { key, cert } in PEM.
Napi::Value SelfSignedCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string cn = info[0].As<Napi::String>().Utf8Value();
  const long days = info[1].ToNumber().Int64Value();
  EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  X509Ptr cert(X509_new());
  bool ok = key && cert;
  ok = ok && X509_set_version(cert.get(), X509_VERSION_3) == 1;
  ok = ok && ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(time(nullptr))) == 1;
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr;
  ok = ok && X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 86400L) != nullptr;
  ok = ok && X509_set_pubkey(cert.get(), key.get()) == 1;
  X509_NAME* name = ok ? X509_get_subject_name(cert.get()) : nullptr;
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                        -1, -1, 0) == 1;
  ok = ok && X509_set_issuer_name(cert.get(), name) == 1;
  ok = ok && AddExtension(cert.get(), NID_subject_alt_name, "DNS:" + cn + ",IP:127.0.0.1");
  ok = ok && AddExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  ok = ok && X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  BioPtr key_bio(BIO_new(BIO_s_mem()));
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  ok = ok && key_bio && cert_bio;
  ok = ok && PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  ok = ok && PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1;
  if (!ok) throw Napi::Error::New(env, "selfSignedCertificate: OpenSSL could not make the certificate");
  Napi::Object out = Napi::Object::New(env);
  out.Set("key", BioToString(key_bio.get()));
  out.Set("cert", BioToString(cert_bio.get()));
  return out;
}

}  // namespace

void InitSelfSigned(Napi::Env env, Napi::Object exports) {
  exports.Set("selfSignedCertificate", Napi::Function::New(env, SelfSignedCertificate, "selfSignedCertificate"));
}

}  // namespace tsc
