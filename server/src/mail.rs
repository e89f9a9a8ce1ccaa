//! The mailers behind `domain::Mailer`: Resend's HTTP API, an SMTP relay, or the log.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{EmailConfig, SmtpConfig};
use crate::domain::mail::{Email, Mailer};

/// Picks Resend when RESEND_API_KEY is set, else SMTP when EMAIL_HOST is set, else the log.
pub fn from_config(config: &EmailConfig) -> anyhow::Result<Arc<dyn Mailer>> {
    let from = format!("{} <{}>", config.from_name, config.from_address);
    if let Some(key) = &config.resend_api_key {
        return Ok(Arc::new(ResendMailer {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()?,
            url: format!("{}/emails", config.resend_api_url.trim_end_matches('/')),
            key: key.clone(),
            from,
        }));
    }
    if let Some(smtp) = &config.smtp {
        return Ok(Arc::new(SmtpMailer {
            transport: smtp_transport(smtp)?,
            from: from.parse()?,
        }));
    }
    Ok(Arc::new(LogMailer))
}

/// Writes emails to the log: the default when no email service is configured.
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, email: &Email) -> anyhow::Result<()> {
        tracing::info!(to = %email.to, subject = %email.subject, body = %email.text, "email (no RESEND_API_KEY or EMAIL_HOST: logged, not sent)");
        Ok(())
    }
}

/// Sends through Resend's `POST /emails`.
pub struct ResendMailer {
    http: reqwest::Client,
    url: String,
    key: SecretString,
    from: String,
}

#[async_trait]
impl Mailer for ResendMailer {
    async fn send(&self, email: &Email) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "from": self.from,
            "to": [email.to],
            "subject": email.subject,
            "text": email.text,
        });
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(self.key.expose_secret())
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        anyhow::ensure!(status.is_success(), "resend answered {status}");
        Ok(())
    }
}

/// Sends through an SMTP relay.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn smtp_transport(c: &SmtpConfig) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut builder = if c.use_ssl {
        AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)?
    } else if c.use_tls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
    };
    builder = builder
        .port(c.port)
        .timeout(Some(Duration::from_secs(c.timeout_seconds)));
    if let (Some(user), Some(password)) = (&c.username, &c.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> anyhow::Result<()> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(email.to.parse()?)
            .subject(email.subject.clone())
            .body(email.text.clone())?;
        self.transport.send(message).await?;
        Ok(())
    }
}
