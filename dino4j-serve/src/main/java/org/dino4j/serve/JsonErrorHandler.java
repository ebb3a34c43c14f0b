package org.dino4j.serve;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import org.dino4j.io.Json;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/** Jetty's own errors (bad URIs, oversized headers, slow bodies cut off) as the API's one-line JSON instead of an HTML page. */
final class JsonErrorHandler extends ErrorHandler {
    private static byte[] body(int code, String message) {
        String m = message == null || message.isBlank() ? HttpStatus.getMessage(code) : message;
        return Json.write(Map.of("error", ApiError.oneLine(m))).getBytes(StandardCharsets.UTF_8);
    }

    /** Jetty writes an error body only for GET, POST and HEAD: a DELETE, PUT or OPTIONS refused by Jetty got none. */
    @Override
    public boolean errorPageForMethod(String method) {
        return true;
    }

    @Override
    protected void generateResponse(Request request, Response response, int code, String message, Throwable cause, Callback callback) {
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
        response.write(true, ByteBuffer.wrap(body(code, message)), callback);
    }

    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        fields.put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
        return ByteBuffer.wrap(body(status, reason));
    }
}
