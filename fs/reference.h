// Docker image references: `busybox`, `busybox:1.36`, `foo/bar`,
// `localhost:5000/x/y:t`, `name@sha256:<64hex>`, parsed and normalised the way
// Docker's reference grammar (distribution/reference) does:
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path-component ( "/" path-component )*
//   domain    := host [ ":" port ]   (a first component is a domain only if it
//                has a "." or ":" or is "localhost")
//   path-component := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
//   tag       := [\w][\w.-]{0,127}
//   digest    := "sha256:" 64 lowercase hex  (the only algorithm berth stores)
//
// Normalisation: no domain means docker.io, and a single docker.io component
// gains "library/"; index.docker.io is docker.io; with neither tag nor digest
// the tag is "latest". Pure functions on values; any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"

namespace berth::fs {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // "latest" when neither tag nor digest was given; else may be ""
  std::string digest;  // "sha256:<hex>" or ""

  // "docker.io/library/busybox"
  std::string name() const;
  // "busybox", "foo/bar", "localhost:5000/x/y"
  std::string familiar_name() const;
  // "docker.io/library/busybox:latest" (plus "@digest" when present)
  std::string string() const;
  // "busybox:latest", "foo/bar@sha256:…", "localhost:5000/x/y:t"
  std::string familiar_string() const;

  bool operator==(const Reference&) const = default;
};

// Parses and normalises `s`. Errors are kInvalidArgument with Docker's
// messages, e.g. "invalid reference format: repository name must be lowercase".
Result<Reference> parse_reference(std::string_view s);

// Like parse_reference, for the target of `docker tag` / `import repo:tag`:
// a digest is refused.
Result<Reference> parse_tag_reference(std::string_view s);

}  // namespace berth::fs
