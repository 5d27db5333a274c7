//! Wire formats cliproxy speaks, on either side.

/// An API format: what a request body, a response body and an SSE stream look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAiChat,
    /// OpenAI Responses (`/v1/responses`).
    OpenAiResponses,
    /// Anthropic Messages (`/v1/messages`).
    Claude,
    /// Google Gemini (`generateContent` / `streamGenerateContent`).
    Gemini,
    /// The Codex flavour of OpenAI Responses (`chatgpt.com/backend-api/codex/responses`).
    Codex,
    /// Gemini through Cloud Code Assist (Gemini CLI OAuth accounts,
    /// upstream only): Gemini bodies in a `{model, project, request}`
    /// envelope, answers and stream events wrapped in `{"response": ...}`.
    GeminiCli,
}

/// The Gemini answer inside a Cloud Code Assist ([`Format::GeminiCli`])
/// answer or stream event: its `response` member; the data itself when it
/// has none (an error body).
pub fn gemini_cli_inner(data: &[u8]) -> &[u8] {
    crate::json::span::get(data, b"response").unwrap_or(data)
}
