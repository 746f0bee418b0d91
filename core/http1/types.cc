#include "core/http1/types.h"

namespace lbd::http1 {

int http_status(HttpError error) {
    switch (error) {
        case HttpError::kNone:
            return 0;
        case HttpError::kUriTooLong:
            return 414;  // RFC 9110 §15.5.15
        case HttpError::kVersionNotSupported:
            return 505;  // RFC 9110 §15.6.6
        case HttpError::kHeadersTooLarge:
        case HttpError::kTooManyHeaders:
        case HttpError::kTrailersTooLarge:
            return 431;  // RFC 6585 §5
        case HttpError::kUnknownTransferCoding:
            return 501;  // RFC 9112 §6.1
        case HttpError::kBodyTooLarge:
            return 413;  // RFC 9110 §15.5.14
        case HttpError::kBadRequestLine:
        case HttpError::kBadMethod:
        case HttpError::kBadTarget:
        case HttpError::kBadVersion:
        case HttpError::kBadStatusLine:
        case HttpError::kBadStatusCode:
        case HttpError::kBareLf:
        case HttpError::kBareCr:
        case HttpError::kObsFold:
        case HttpError::kEmptyHeaderName:
        case HttpError::kBadHeaderName:
        case HttpError::kMissingColon:
        case HttpError::kSpaceBeforeColon:
        case HttpError::kBadHeaderValue:
        case HttpError::kMissingHost:
        case HttpError::kDuplicateHost:
        case HttpError::kBadHost:
        case HttpError::kBadConnection:
        case HttpError::kBadContentLength:
        case HttpError::kContentLengthOverflow:
        case HttpError::kDuplicateContentLength:
        case HttpError::kContentLengthAndTransferEncoding:
        case HttpError::kTransferEncodingInHttp10:
        case HttpError::kBadTransferEncoding:
        case HttpError::kChunkedNotFinal:
        case HttpError::kBadChunkSize:
        case HttpError::kChunkSizeOverflow:
        case HttpError::kBadChunkExtension:
        case HttpError::kChunkLineTooLong:
        case HttpError::kMissingChunkCrlf:
        case HttpError::kTruncatedBody:
        case HttpError::kCount:
            break;
    }
    return 400;
}

const char* to_string(HttpError error) {
    switch (error) {
        case HttpError::kNone: return "no error";
        case HttpError::kBadRequestLine: return "malformed request line";
        case HttpError::kBadMethod: return "method is not a token";
        case HttpError::kBadTarget: return "malformed request target";
        case HttpError::kUriTooLong: return "request target too long";
        case HttpError::kBadVersion: return "malformed HTTP version";
        case HttpError::kVersionNotSupported: return "HTTP version not supported";
        case HttpError::kBadStatusLine: return "malformed status line";
        case HttpError::kBadStatusCode: return "status code outside 100-599";
        case HttpError::kBareLf: return "LF without CR";
        case HttpError::kBareCr: return "CR without LF";
        case HttpError::kObsFold: return "line starts with whitespace (obs-fold)";
        case HttpError::kEmptyHeaderName: return "empty header name";
        case HttpError::kBadHeaderName: return "header name is not a token";
        case HttpError::kMissingColon: return "header line without colon";
        case HttpError::kSpaceBeforeColon: return "whitespace before header colon";
        case HttpError::kBadHeaderValue: return "control character in header value";
        case HttpError::kHeadersTooLarge: return "header section too large";
        case HttpError::kTooManyHeaders: return "too many header fields";
        case HttpError::kMissingHost: return "HTTP/1.1 request without host";
        case HttpError::kDuplicateHost: return "more than one host";
        case HttpError::kBadHost: return "malformed host";
        case HttpError::kBadConnection: return "connection is not a token list";
        case HttpError::kBadContentLength: return "malformed content-length";
        case HttpError::kContentLengthOverflow: return "content-length too large";
        case HttpError::kDuplicateContentLength: return "more than one content-length";
        case HttpError::kContentLengthAndTransferEncoding: return "content-length and transfer-encoding together";
        case HttpError::kTransferEncodingInHttp10: return "transfer-encoding in HTTP/1.0";
        case HttpError::kBadTransferEncoding: return "malformed transfer-encoding";
        case HttpError::kChunkedNotFinal: return "chunked is not the final transfer coding";
        case HttpError::kUnknownTransferCoding: return "unknown transfer coding";
        case HttpError::kBodyTooLarge: return "body larger than the limit";
        case HttpError::kBadChunkSize: return "malformed chunk size";
        case HttpError::kChunkSizeOverflow: return "chunk size too large";
        case HttpError::kBadChunkExtension: return "malformed chunk extension";
        case HttpError::kChunkLineTooLong: return "chunk size line too long";
        case HttpError::kMissingChunkCrlf: return "chunk data not followed by CRLF";
        case HttpError::kTrailersTooLarge: return "trailer section too large";
        case HttpError::kTruncatedBody: return "connection closed inside the body";
        case HttpError::kCount: break;
    }
    return "unknown error";
}

const char* to_string(HttpMethod method) {
    switch (method) {
        case HttpMethod::kGet: return "GET";
        case HttpMethod::kHead: return "HEAD";
        case HttpMethod::kPost: return "POST";
        case HttpMethod::kPut: return "PUT";
        case HttpMethod::kDelete: return "DELETE";
        case HttpMethod::kConnect: return "CONNECT";
        case HttpMethod::kOptions: return "OPTIONS";
        case HttpMethod::kTrace: return "TRACE";
        case HttpMethod::kPatch: return "PATCH";
        case HttpMethod::kOther: break;
    }
    return "other";
}

const char* to_string(BodyFraming framing) {
    switch (framing) {
        case BodyFraming::kNone: return "none";
        case BodyFraming::kContentLength: return "content-length";
        case BodyFraming::kChunked: return "chunked";
        case BodyFraming::kUntilClose: return "until-close";
    }
    return "unknown";
}

}  // namespace lbd::http1
