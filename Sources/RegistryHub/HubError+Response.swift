import HTTPTypes
import Hummingbird

extension HubError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch self {
        case .unauthorized: .unauthorized
        case .badRequest, .invalid: .badRequest
        case .tooLarge: .contentTooLarge
        case .batchIdTaken, .clinicExists: .conflict
        case .tooEarly: .tooEarly
        case .clockAhead: .unprocessableContent
        case .unsupportedEncoding: .unsupportedMediaType
        case .notFound, .unknownClinic: .notFound
        case .database: .internalServerError
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response { response }

    /// `{"error": description}` with the status, and the challenge a 401 owes the client.
    var response: Response {
        var response = JSONResponse.error(status, description)
        if case .unauthorized = self { response.headers[.wwwAuthenticate] = #"Bearer realm="emreg-hub""# }
        return response
    }
}
