#include "fs/reference.h"

#include <cctype>

#include "core/base/strings.h"
#include "fs/digest.h"

namespace berth::fs {

namespace {

constexpr size_t kNameTotalLengthMax = 255;
constexpr size_t kTagLengthMax = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
bool valid_path_component(std::string_view c) {
  size_t i = 0;
  while (i < c.size()) {
    size_t run = i;
    while (i < c.size() && is_lower_alnum(c[i])) i++;
    if (i == run) return false;  // a separator must sit between alnum runs
    if (i == c.size()) return true;
    size_t sep = i;
    while (i < c.size() && !is_lower_alnum(c[i])) i++;
    std::string_view s = c.substr(sep, i - sep);
    bool dashes = s.find_first_not_of('-') == std::string_view::npos;
    if (!(s == "." || s == "_" || s == "__" || dashes)) return false;
    if (i == c.size()) return false;  // trailing separator
  }
  return false;  // empty component
}

bool valid_path(std::string_view path) {
  for (const std::string& c : split(path, '/'))
    if (!valid_path_component(c)) return false;
  return true;
}

// ([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])
bool valid_domain_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  for (char ch : c)
    if (!is_alnum(ch) && ch != '-') return false;
  return true;
}

// host [":" port], host := domain-name | "[" ipv6 "]"
bool valid_domain(std::string_view d) {
  std::string_view host = d;
  if (!d.empty() && d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : d.substr(1, close - 1))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':') return false;
    host = {};
    d.remove_prefix(close + 1);
  } else {
    size_t colon = d.find(':');
    host = d.substr(0, colon);
    d = colon == std::string_view::npos ? std::string_view() : d.substr(colon);
    for (const std::string& c : split(host, '.'))
      if (!valid_domain_component(c)) return false;
  }
  if (d.empty()) return true;
  if (d.front() != ':' || d.size() < 2) return false;
  for (char c : d.substr(1))
    if (c < '0' || c > '9') return false;
  return true;
}

// [\w][\w.-]{0,127}
bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > kTagLengthMax || !is_word(t.front())) return false;
  for (char c : t)
    if (!is_word(c) && c != '.' && c != '-') return false;
  return true;
}

Result<void> check_digest(std::string_view d) {
  if (is_sha256_digest(d)) return ok();
  size_t colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == d.size())
    return Error::invalid("invalid reference format");
  if (d.substr(0, colon) == "sha256") return Error::invalid("invalid checksum digest format");
  return Error::invalid("unsupported digest algorithm");
}

bool has_upper(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

// Docker's splitDockerDomain: the first component is a domain only when it
// looks like one. Fills domain and path, normalised; returns whether the name
// spelled a domain out.
bool split_domain(std::string_view name, Reference* ref) {
  size_t slash = name.find('/');
  std::string_view first = name.substr(0, slash);
  bool is_domain = slash != std::string_view::npos &&
                   (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
                    has_upper(first));
  if (!is_domain) {
    ref->domain = kDefaultDomain;
    ref->path = name;
  } else {
    ref->domain = first;
    ref->path = name.substr(slash + 1);
  }
  if (ref->domain == "index.docker.io") ref->domain = kDefaultDomain;
  if (ref->domain == kDefaultDomain && ref->path.find('/') == std::string::npos)
    ref->path = "library/" + ref->path;
  return is_domain;
}

Result<void> check_name(std::string_view name, const Reference& ref, bool explicit_domain) {
  if (name.empty()) return Error::invalid("invalid reference format: repository name must have at least one component");
  // Docker measures the normalised name ("docker.io/library/x"), so what
  // parses prints back to something that parses (the reference fuzzer
  // found a 250-character name that did not).
  if (name.size() > kNameTotalLengthMax || ref.domain.size() + 1 + ref.path.size() > kNameTotalLengthMax)
    return Error::invalid("invalid reference format: repository name must not be more than {} characters",
                          kNameTotalLengthMax);
  if (explicit_domain && !valid_domain(ref.domain)) return Error::invalid("invalid reference format");
  if (valid_path(ref.path)) return ok();
  if (valid_path(ascii_lower(ref.path)))
    return Error::invalid("invalid reference format: repository name must be lowercase");
  return Error::invalid("invalid reference format");
}

}  // namespace

std::string Reference::name() const { return domain + "/" + path; }

std::string Reference::familiar_name() const {
  if (domain != kDefaultDomain) return name();
  std::string_view p = path;
  if (starts_with(p, "library/") && p.find('/', 8) == std::string_view::npos) p.remove_prefix(8);
  // A Docker Hub path whose first component would read as a domain
  // ("docker.io/a.b/c") keeps its domain, or it would not parse back to the
  // same reference (found by tests/fuzz/reference_fuzz.cc).
  size_t slash = p.find('/');
  std::string_view first = p.substr(0, slash);
  if (slash != std::string_view::npos && (first.find_first_of(".:") != std::string_view::npos || first == "localhost"))
    return name();
  return std::string(p);
}

std::string Reference::string() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

std::string Reference::familiar_string() const {
  std::string s = familiar_name();
  if (!tag.empty()) s += ":" + tag;
  if (!digest.empty()) s += "@" + digest;
  return s;
}

Result<Reference> parse_reference(std::string_view s) {
  if (s.empty()) return Error::invalid("invalid reference format");
  if (s.size() == 64 && is_hex(s))
    return Error::invalid("invalid repository name ({}), cannot specify 64-byte hexadecimal strings", s);
  Reference ref;
  std::string_view name = s;
  if (size_t at = s.find('@'); at != std::string_view::npos) {
    BERTH_TRY_VOID(check_digest(s.substr(at + 1)));
    ref.digest = s.substr(at + 1);
    name = s.substr(0, at);
  }
  size_t colon = name.rfind(':');
  size_t slash = name.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = name.substr(colon + 1);
    if (!valid_tag(tag)) return Error::invalid("invalid reference format");
    ref.tag = tag;
    name = name.substr(0, colon);
  }
  bool explicit_domain = split_domain(name, &ref);
  BERTH_TRY_VOID(check_name(name, ref, explicit_domain));
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = kDefaultTag;
  return ref;
}

Result<Reference> parse_tag_reference(std::string_view s) {
  Reference ref = BERTH_TRY(parse_reference(s));
  if (!ref.digest.empty()) return Error::invalid("refusing to create a tag with a digest reference");
  return ref;
}

}  // namespace berth::fs
