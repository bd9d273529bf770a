"""Mail for email verification and account recovery: messages rendered from Jinja2 templates
(:mod:`fido.mail.message`), written to a transactional outbox in the transaction that decided to send
them and sent by a sender loop with retries (:mod:`fido.mail.outbox`), over SMTP (:mod:`fido.mail.smtp`)
or, in development, to the console (:mod:`fido.mail.console`)."""
