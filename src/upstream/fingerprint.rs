//! Per-host TLS ClientHello profiles (CLIProxyAPI's `helps/utls_client.go`):
//! `api.anthropic.com` gets Claude Code's hello (its Node/undici client over
//! BoringSSL's stack: no GREASE, fixed extension order, HTTP/1.1 only) and
//! `chatgpt.com` a Chrome-like one (GREASE, permuted extensions, ECH GREASE,
//! X25519MLKEM768). Every other host keeps rustls.
//!
//! These two hellos cannot be produced by rustls (it implements no CBC or
//! RSA-key-exchange suites, so cannot offer them, and has no ECH GREASE,
//! SCT request or GREASE); they are produced by BoringSSL through the
//! `boring` crate, configured to the target field lists recorded in
//! `docs/architecture.md` and pinned by `tests/tls_fingerprint.rs`.
//!
//! Certificates are checked by the same webpki verifier (same roots,
//! `--upstream-ca` included) as every rustls connection: BoringSSL runs with
//! a custom verify callback that hands the peer chain to it. BoringSSL itself
//! checks the handshake signature against the leaf.
//!
//! I/O: BoringSSL reads and writes a memory buffer pair ([`MemIo`]); the
//! ciphertext moves between those and the monoio socket here, as
//! `crate::tls` does for rustls. HTTP/2 (ALPN `h2`) runs over the same
//! session through [`crate::h2io::Wire`].

use boring::ssl::{
    CertificateCompressionAlgorithm, CertificateCompressor, ErrorCode, NameType, Ssl, SslAlert,
    SslContext, SslContextBuilder, SslMethod, SslRef, SslSignatureAlgorithm, SslStream,
    SslVerifyError, SslVerifyMode, SslVersion,
};
use foreign_types::ForeignTypeRef;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::sync::{Arc, RwLock};
use tokio::io::ReadBuf;

use crate::tls::TLS_READ;

/// A ClientHello profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Claude Code (Node 24 / undici) to `api.anthropic.com`: HTTP/1.1.
    ClaudeCode,
    /// Chrome to `chatgpt.com`: `h2` and `http/1.1`.
    Chrome,
}

/// The profile for an upstream host, if it has one.
pub fn profile_for(host: &str) -> Option<Profile> {
    if host.eq_ignore_ascii_case("api.anthropic.com") {
        Some(Profile::ClaudeCode)
    } else if host.eq_ignore_ascii_case("chatgpt.com") {
        Some(Profile::Chrome)
    } else {
        None
    }
}

/// Claude Code's TLS 1.2 suites after BoringSSL's fixed TLS 1.3 trio
/// (0x1301, 0x1302, 0x1303): c02b c02f c02c c030 cca9 cca8 c009 c013 c00a
/// c014 009c 009d 002f 0035.
const CLAUDE_CODE_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:\
ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:\
AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA";

/// Chrome's TLS 1.2 suites (no ECDSA CBC ones): c02b c02f c02c c030 cca9
/// cca8 c013 c014 009c 009d 002f 0035.
const CHROME_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:\
ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:\
AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA:AES256-SHA";

/// Signature algorithms both send, in order; Claude Code adds rsa_pkcs1_sha1.
const SIGALGS: [SslSignatureAlgorithm; 8] = [
    SslSignatureAlgorithm::ECDSA_SECP256R1_SHA256,
    SslSignatureAlgorithm::RSA_PSS_RSAE_SHA256,
    SslSignatureAlgorithm::RSA_PKCS1_SHA256,
    SslSignatureAlgorithm::ECDSA_SECP384R1_SHA384,
    SslSignatureAlgorithm::RSA_PSS_RSAE_SHA384,
    SslSignatureAlgorithm::RSA_PKCS1_SHA384,
    SslSignatureAlgorithm::RSA_PSS_RSAE_SHA512,
    SslSignatureAlgorithm::RSA_PKCS1_SHA512,
];

/// The BoringSSL contexts of the profiles, built with the verifier of the
/// current roots.
struct Contexts {
    claude_code: SslContext,
    chrome_h2: SslContext,
    chrome_h1: SslContext,
}

/// Set by [`set_verifier`] (from `client_tls_config`, which knows the roots).
static CONTEXTS: RwLock<Option<Arc<Contexts>>> = RwLock::new(None);

/// Builds the profiles' contexts around `verifier` (webpki roots plus
/// `--upstream-ca`); later connections use them.
pub fn set_verifier(verifier: Arc<dyn ServerCertVerifier>) -> io::Result<()> {
    let ctx = Contexts {
        claude_code: context(Profile::ClaudeCode, false, verifier.clone())?,
        chrome_h2: context(Profile::Chrome, true, verifier.clone())?,
        chrome_h1: context(Profile::Chrome, false, verifier)?,
    };
    let mut slot = CONTEXTS.write().unwrap_or_else(|e| e.into_inner());
    *slot = Some(Arc::new(ctx));
    Ok(())
}

fn ssl_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
}

/// As [`ssl_err`], naming the setting that failed.
fn setting(what: &'static str) -> impl Fn(boring::error::ErrorStack) -> io::Error {
    move |e| ssl_err(format!("{what}: {e}"))
}

fn context(
    profile: Profile,
    h2: bool,
    verifier: Arc<dyn ServerCertVerifier>,
) -> io::Result<SslContext> {
    let mut b = SslContextBuilder::new(SslMethod::tls_client()).map_err(setting("context"))?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(setting("min version"))?;
    b.set_max_proto_version(Some(SslVersion::TLS1_3))
        .map_err(setting("max version"))?;
    b.enable_ocsp_stapling();
    b.enable_signed_cert_timestamps();
    match profile {
        Profile::ClaudeCode => {
            b.set_cipher_list(CLAUDE_CODE_CIPHERS)
                .map_err(setting("cipher list"))?;
            b.set_curves_list("X25519:P-256:P-384")
                .map_err(setting("curves"))?;
            let mut algs = SIGALGS.to_vec();
            algs.push(SslSignatureAlgorithm::RSA_PKCS1_SHA1);
            b.set_verify_algorithm_prefs(&algs)
                .map_err(setting("signature algorithms"))?;
            b.set_alpn_protos(b"\x08http/1.1")
                .map_err(setting("ALPN"))?;
        }
        Profile::Chrome => {
            b.set_cipher_list(CHROME_CIPHERS)
                .map_err(setting("cipher list"))?;
            b.set_curves_list("X25519MLKEM768:X25519:P-256:P-384")
                .map_err(setting("curves"))?;
            b.set_verify_algorithm_prefs(&SIGALGS)
                .map_err(setting("signature algorithms"))?;
            b.set_grease_enabled(true);
            b.set_permute_extensions(true);
            b.add_certificate_compression_algorithm(Brotli)
                .map_err(setting("certificate compression"))?;
            let alpn: &[u8] = if h2 {
                b"\x02h2\x08http/1.1"
            } else {
                b"\x08http/1.1"
            };
            b.set_alpn_protos(alpn).map_err(setting("ALPN"))?;
        }
    }
    b.set_custom_verify_callback(SslVerifyMode::PEER, move |ssl| verify(ssl, &*verifier));
    Ok(b.build())
}

/// Brotli certificate decompression (RFC 8879), as Chrome offers it.
struct Brotli;

impl CertificateCompressor for Brotli {
    const ALGORITHM: CertificateCompressionAlgorithm = CertificateCompressionAlgorithm::BROTLI;
    const CAN_COMPRESS: bool = false;
    const CAN_DECOMPRESS: bool = true;

    fn decompress<W>(&self, input: &[u8], output: &mut W) -> io::Result<()>
    where
        W: Write,
    {
        // BoringSSL bounds `output` by the length the peer declared.
        brotli_decompressor::BrotliDecompress(&mut &input[..], output)
    }
}

/// Checks the peer's chain and name with the webpki verifier.
fn verify(ssl: &mut SslRef, verifier: &dyn ServerCertVerifier) -> Result<(), SslVerifyError> {
    let bad = SslVerifyError::Invalid(SslAlert::BAD_CERTIFICATE);
    let host = ssl.servername(NameType::HOST_NAME).ok_or(bad)?;
    let name = ServerName::try_from(host.to_string()).map_err(|_| bad)?;
    let chain = ssl.peer_cert_chain().ok_or(bad)?;
    let mut ders = Vec::with_capacity(chain.len());
    for c in chain {
        ders.push(CertificateDer::from(c.to_der().map_err(|_| bad)?));
    }
    let Some((leaf, rest)) = ders.split_first() else {
        return Err(bad);
    };
    verifier
        .verify_server_cert(leaf, rest, &name, &[], UnixTime::now())
        .map(|_| ())
        .map_err(|_| SslVerifyError::Invalid(SslAlert::CERTIFICATE_UNKNOWN))
}

/// BoringSSL's transport: ciphertext in from the socket, out to it.
#[derive(Default)]
pub struct MemIo {
    input: Vec<u8>,
    ipos: usize,
    output: Vec<u8>,
    eof: bool,
}

impl Read for MemIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = &self.input[self.ipos..];
        if avail.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.ipos += n;
        if self.ipos == self.input.len() {
            self.input.clear();
            self.ipos = 0;
        }
        Ok(n)
    }
}

impl Write for MemIo {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A BoringSSL client session over [`MemIo`].
pub struct Session(SslStream<MemIo>);

/// What a BoringSSL call asks for.
enum Want {
    Read,
    Closed,
}

fn want(e: boring::ssl::Error) -> io::Result<Want> {
    match e.code() {
        ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => Ok(Want::Read),
        ErrorCode::ZERO_RETURN => Ok(Want::Closed),
        ErrorCode::SYSCALL if e.io_error().is_none() => Ok(Want::Closed),
        _ => Err(match e.into_io_error() {
            Ok(io) => io,
            Err(e) => ssl_err(e),
        }),
    }
}

impl Session {
    /// Decrypts into `out`'s spare capacity; `Ok(None)` when more
    /// ciphertext is needed, `Ok(Some(0))` at the end of the session.
    fn read_spare(&mut self, out: &mut [MaybeUninit<u8>]) -> io::Result<Option<usize>> {
        match self.0.ssl_read_uninit(out) {
            Ok(n) => Ok(Some(n)),
            Err(e) => match want(e)? {
                Want::Read => Ok(None),
                Want::Closed => Ok(Some(0)),
            },
        }
    }

    fn io(&mut self) -> &mut MemIo {
        self.0.get_mut()
    }

    /// The negotiated ALPN protocol.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.0.ssl().selected_alpn_protocol()
    }
}

impl crate::h2io::Wire for Session {
    fn read_decoded(&mut self, dst: &mut ReadBuf<'_>) -> io::Result<usize> {
        // SAFETY: `ssl_read_uninit` only writes into the unfilled part and
        // reports how many bytes it initialised; exactly those are marked
        // initialised and filled below.
        let unfilled = unsafe { dst.unfilled_mut() };
        match self.read_spare(unfilled)? {
            None => Err(io::ErrorKind::WouldBlock.into()),
            Some(n) => {
                // SAFETY: BoringSSL initialised the first `n` unfilled bytes.
                unsafe { dst.assume_init(n) };
                dst.advance(n);
                Ok(n)
            }
        }
    }

    fn feed(&mut self, wire: &[u8], _dst: &mut ReadBuf<'_>) -> io::Result<usize> {
        self.io().input.extend_from_slice(wire);
        Ok(wire.len())
    }

    fn wants_write(&self) -> bool {
        !self.0.get_ref().output.is_empty()
    }

    fn take_output(&mut self, wq: &mut Vec<u8>) -> io::Result<()> {
        let io = self.io();
        wq.extend_from_slice(&io.output);
        io.output.clear();
        Ok(())
    }

    fn encode(&mut self, data: &[u8], _wq: &mut Vec<u8>) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        match self.0.ssl_write(data) {
            Ok(n) => Ok(n),
            Err(e) => match want(e)? {
                Want::Read => Err(io::ErrorKind::WouldBlock.into()),
                Want::Closed => Err(io::ErrorKind::BrokenPipe.into()),
            },
        }
    }

    fn close(&mut self) {
        let _ = self.0.shutdown();
    }
}

/// Plaintext encrypted per step of [`FpStream::write_all`] (four records).
const WRITE_CHUNK: usize = 64 * 1024;

/// A BoringSSL session over a monoio TCP stream (the HTTP/1.1 path).
pub struct FpStream {
    tcp: TcpStream,
    s: Session,
    rbuf: Vec<u8>,
}

impl FpStream {
    /// Runs the handshake for `host` with `profile` over `tcp`; `early`
    /// holds ciphertext already read (behind a proxy's reply); `h2` offers
    /// `h2` where the profile allows it (Chrome).
    pub async fn connect(
        tcp: TcpStream,
        early: Vec<u8>,
        host: &str,
        profile: Profile,
        h2: bool,
    ) -> io::Result<FpStream> {
        let contexts = CONTEXTS
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| ssl_err("fingerprint profiles not configured"))?;
        let ctx = match (profile, h2) {
            (Profile::ClaudeCode, _) => &contexts.claude_code,
            (Profile::Chrome, true) => &contexts.chrome_h2,
            (Profile::Chrome, false) => &contexts.chrome_h1,
        };
        let mut ssl = Ssl::new(ctx).map_err(setting("session"))?;
        ssl.set_hostname(host).map_err(setting("server name"))?;
        ssl.set_enable_ech_grease(true);
        if profile == Profile::Chrome && h2 {
            // ALPS for h2, as Chrome sends it (empty settings: only the
            // extension's presence is part of the hello).
            // SAFETY: `ssl` is a live `SSL` handle owned here; the protocol
            // bytes are a static slice that BoringSSL copies; a null
            // settings pointer with length 0 is allowed.
            let ok = unsafe {
                boring_sys::SSL_add_application_settings(
                    ssl.as_ptr(),
                    b"h2".as_ptr(),
                    2,
                    std::ptr::null(),
                    0,
                )
            };
            if ok != 1 {
                return Err(ssl_err("ALPS setup failed"));
            }
        }
        let io = MemIo {
            input: early,
            ..MemIo::default()
        };
        let s = SslStream::new(ssl, io).map_err(setting("stream"))?;
        let mut st = FpStream {
            tcp,
            s: Session(s),
            rbuf: Vec::with_capacity(TLS_READ),
        };
        loop {
            // SSL_connect: client state, then the handshake; resumable.
            match st.s.0.connect() {
                Ok(()) => break,
                Err(e) => match want(e)? {
                    Want::Read => {
                        st.flush().await?;
                        if !st.fill().await? {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "TLS: closed during the handshake",
                            ));
                        }
                    }
                    Want::Closed => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "TLS: closed during the handshake",
                        ))
                    }
                },
            }
        }
        st.flush().await?;
        Ok(st)
    }

    /// The negotiated ALPN protocol.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.s.alpn()
    }

    /// Sends the ciphertext BoringSSL produced.
    async fn flush(&mut self) -> io::Result<()> {
        if self.s.io().output.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.s.io().output);
        let (r, mut out) = self.tcp.write_all(out).await;
        out.clear();
        // A pooled connection keeps its buffer: not beyond a few records.
        out.shrink_to(2 * WRITE_CHUNK);
        self.s.io().output = out;
        r.map(|_| ())
    }

    /// Reads ciphertext from the socket; false at end of stream.
    async fn fill(&mut self) -> io::Result<bool> {
        let mut b = std::mem::take(&mut self.rbuf);
        b.clear();
        if b.capacity() < TLS_READ {
            b.reserve(TLS_READ);
        }
        let (r, b) = self.tcp.read(b).await;
        let n = r?;
        let io = self.s.io();
        if n == 0 {
            io.eof = true;
        } else {
            io.input.extend_from_slice(&b);
        }
        self.rbuf = b;
        Ok(n > 0)
    }

    /// Reads plaintext, appending to `out`; `Ok(0)` at end of stream.
    pub async fn read_into(&mut self, out: &mut Vec<u8>) -> io::Result<usize> {
        if out.capacity() - out.len() < 8 * 1024 {
            out.reserve(16 * 1024);
        }
        loop {
            let len = out.len();
            match self.s.read_spare(out.spare_capacity_mut())? {
                Some(n) => {
                    // SAFETY: BoringSSL initialised the first `n` bytes of
                    // the spare capacity.
                    unsafe { out.set_len(len + n) };
                    return Ok(n);
                }
                None => {
                    if self.s.io().eof {
                        // BoringSSL wants more after the end of stream.
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "TLS: closed mid-record",
                        ));
                    }
                    self.flush().await?;
                    // At the end of stream the next read reports it (or
                    // the truncation).
                    self.fill().await?;
                }
            }
        }
    }

    /// Writes all of `data`, encrypting at most [`WRITE_CHUNK`] at a time
    /// so the ciphertext buffer stays small for large bodies.
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let mut off = 0;
        while off < data.len() {
            let end = data.len().min(off + WRITE_CHUNK);
            match self.s.0.ssl_write(&data[off..end]) {
                Ok(n) => {
                    off += n;
                    if self.s.io().output.len() >= WRITE_CHUNK {
                        self.flush().await?;
                    }
                }
                Err(e) => match want(e)? {
                    Want::Read => {
                        self.flush().await?;
                        if !self.fill().await? {
                            return Err(io::ErrorKind::BrokenPipe.into());
                        }
                    }
                    Want::Closed => return Err(io::ErrorKind::BrokenPipe.into()),
                },
            }
        }
        self.flush().await
    }

    /// The socket and the session, for the HTTP/2 adapter (all ciphertext
    /// read so far is inside the session).
    pub fn into_parts(self) -> (TcpStream, Session) {
        (self.tcp, self.s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> Arc<dyn ServerCertVerifier> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("verifier")
    }

    /// Every profile's BoringSSL settings are accepted.
    #[test]
    fn every_profile_context_builds() {
        for (p, h2) in [
            (Profile::ClaudeCode, false),
            (Profile::Chrome, false),
            (Profile::Chrome, true),
        ] {
            if let Err(e) = context(p, h2, verifier()) {
                panic!("{p:?} h2={h2}: {e}");
            }
        }
    }

    #[test]
    fn only_the_two_hosts_have_a_profile() {
        assert_eq!(profile_for("api.anthropic.com"), Some(Profile::ClaudeCode));
        assert_eq!(profile_for("API.Anthropic.com"), Some(Profile::ClaudeCode));
        assert_eq!(profile_for("chatgpt.com"), Some(Profile::Chrome));
        for h in [
            "console.anthropic.com",
            "anthropic.com",
            "api.openai.com",
            "chatgpt.com.evil",
        ] {
            assert_eq!(profile_for(h), None, "{h}");
        }
    }

    /// The memory transport: reads block until fed, end of stream once
    /// closed, writes collect.
    #[test]
    fn memio_reads_what_was_fed_then_blocks_or_ends() {
        let mut m = MemIo::default();
        let mut b = [0u8; 4];
        assert_eq!(
            m.read(&mut b).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock)
        );
        m.input.extend_from_slice(b"abcdef");
        assert_eq!(m.read(&mut b).ok(), Some(4));
        assert_eq!(&b, b"abcd");
        assert_eq!(m.read(&mut b).ok(), Some(2));
        assert_eq!(&b[..2], b"ef");
        m.eof = true;
        assert_eq!(m.read(&mut b).ok(), Some(0));
        assert_eq!(m.write(b"xy").ok(), Some(2));
        assert_eq!(m.output, b"xy");
    }
}
