import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { classifyOpenAiError, quoteServerText, serverMessageOfBody } from "../../src/net/openai-errors.js";

describe("classifyOpenAiError", () => {
  it("a caller's timer or the SDK's timeout is a retryable timeout", () => {
    expect(classifyOpenAiError(new Error("aborted"), true)).toEqual({ kind: "timeout", retryable: true });
    expect(classifyOpenAiError(new OpenAI.APIConnectionTimeoutError(), false)).toEqual({ kind: "timeout", retryable: true });
  });

  it("a failed connection keeps the SDK's message and the socket error under it", () => {
    const err = new OpenAI.APIConnectionError({ message: "Connection error.", cause: new Error("connect ECONNREFUSED 127.0.0.1:9") });
    expect(classifyOpenAiError(err, false)).toEqual({
      kind: "network",
      retryable: true,
      message: "Connection error.",
      cause: "connect ECONNREFUSED 127.0.0.1:9",
    });
  });

  it("an error status carries the server's words, whether to retry and the Retry-After it asked for", () => {
    const limited = OpenAI.APIError.generate(429, { error: { message: "slow down" } }, undefined, new Headers({ "retry-after-ms": "1500" }));
    expect(classifyOpenAiError(limited, false)).toEqual({ kind: "http", retryable: true, status: 429, serverMessage: "slow down", retryAfterMs: 1500 });
    const notFound = OpenAI.APIError.generate(404, { error: { message: "no such model: gpt-x" } }, undefined, new Headers());
    expect(classifyOpenAiError(notFound, false)).toEqual({ kind: "http", retryable: false, status: 404, serverMessage: "no such model: gpt-x" });
    const bare = OpenAI.APIError.generate(502, undefined, "Bad Gateway", new Headers());
    expect(classifyOpenAiError(bare, false)).toMatchObject({ kind: "http", retryable: true, status: 502, serverMessage: "Bad Gateway" });
  });

  it("a body that is not JSON is malformed and retried; anything else is retried as 'other'", () => {
    expect(classifyOpenAiError(new SyntaxError("Unexpected end of JSON input"), false)).toEqual({
      kind: "malformed",
      retryable: true,
      message: "Unexpected end of JSON input",
    });
    expect(classifyOpenAiError(new TypeError("boom"), false)).toMatchObject({ kind: "other", retryable: true });
  });
});

describe("server messages", () => {
  it("reads error.message, error or message of a JSON body, else quotes the text", () => {
    expect(serverMessageOfBody('{"error":{"message":"bad key"}}')).toBe("bad key");
    expect(serverMessageOfBody('{"error":"overloaded"}')).toBe("overloaded");
    expect(serverMessageOfBody('{"message":"nope"}')).toBe("nope");
    expect(serverMessageOfBody("  <html>gateway</html> ")).toBe("<html>gateway</html>");
    expect(serverMessageOfBody("")).toBe("(empty body)");
  });

  it("cuts a long text to 500 characters and marks the cut", () => {
    expect(quoteServerText("x".repeat(600))).toBe(`${"x".repeat(500)}…`);
    expect(quoteServerText("short")).toBe("short");
  });
});
