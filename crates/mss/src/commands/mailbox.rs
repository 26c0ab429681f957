//! `mss mailbox create|list|show|grant|suspend|resume|delete|liste-rouge|validate`.
//!
//! Addresses follow the naming rules of `mss-core` (`prenom.nom@`,
//! `pharmacie-nom-codepostal-ville@`, ...) and collisions get the next free
//! suffix. A mailbox created here by the operator's administrator is active
//! at once. Every change the directory shows (creation, suspension,
//! resumption, deletion, liste rouge) queues its publication in the
//! outbox, in the same transaction (`mss annuaire outbox`).

use mss_core::{
    AddressError, Adeli, EmailAddress, Finess, MailboxKind, MailboxState, NationalId, Role, Rpps,
    application_local_part, cabinet_local_part, personal_local_part, pharmacy_local_part, service_local_part,
};
use mss_store::{Mailbox, MailboxDraft, NewPublication, PublicationKind, StoreError, create_at_free_address};
use mss_trust::DistinguishedName;

use crate::cli::{MailboxCommand, MailboxCreateArgs};
use crate::config::DataDir;
use crate::error::{CliError, failed, parse, usage};

pub async fn run(command: MailboxCommand) -> Result<(), CliError> {
    match command {
        MailboxCommand::Create(args) => create(*args).await,
        MailboxCommand::List { data_dir, json } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            let mailboxes = data.open_store().await?.meta.mailboxes().await?;
            if json {
                let list: Vec<_> = mailboxes.iter().map(to_json).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for m in &mailboxes {
                    println!("{}\t{}\t{}\t{}", m.address, m.kind, m.state, m.display_name);
                }
            }
            Ok(())
        }
        MailboxCommand::Grant { data_dir, address, national_id, role } => {
            let address: EmailAddress = parse("address", &address)?;
            let national_id: NationalId = parse("national-id", &national_id)?;
            let role: Role = parse("role", &role)?;
            let data = DataDir::load(&data_dir.data_dir)?;
            let store = data.open_store().await?;
            let mailbox = store.meta.mailbox(&address).await?;
            let mailbox = mailbox.ok_or_else(|| failed("address", format!("no mailbox {address}")))?;
            store.meta.grant_role(mailbox.id, &national_id, role).await?;
            println!("{national_id} is {role} of {address}");
            Ok(())
        }
        MailboxCommand::Suspend { data_dir, address, reason } => {
            transition(&data_dir, &address, MailboxState::Active, MailboxState::Suspended, Some(&reason)).await
        }
        MailboxCommand::Resume { data_dir, address } => {
            transition(&data_dir, &address, MailboxState::Suspended, MailboxState::Active, None).await
        }
        MailboxCommand::Delete { data_dir, address, reason } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            let mailbox = find(&data, &address).await?;
            transition(&data_dir, &address, mailbox.state, MailboxState::Deleted, Some(&reason)).await
        }
        MailboxCommand::ListeRouge { data_dir, address, value } => {
            let on = match value.as_str() {
                "on" => true,
                "off" => false,
                _ => return Err(usage("value", format!("{value:?}: expected on or off"))),
            };
            let data = DataDir::load(&data_dir.data_dir)?;
            let mailbox = find(&data, &address).await?;
            let store = data.open_store().await?;
            if store.meta.set_liste_rouge(mailbox.id, on).await? {
                let entry = mss_store::NewAuditEntry::now("cli", "mailbox.liste_rouge", &address, "ok", &value);
                store.audit.record(entry).await;
                store.audit.flush().await;
            }
            println!("{address}: liste rouge {value}");
            Ok(())
        }
        MailboxCommand::Validate { data_dir, address } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            let mailbox = find(&data, &address).await?;
            if mailbox.state != MailboxState::Pending {
                return Err(usage("address", format!("{address} is {}, not pending", mailbox.state)));
            }
            data.open_store().await?.meta.postpone_validation(mailbox.id, mss_store::now_unix()).await?;
            println!("{address}: the ANS is asked now (by the running server)");
            Ok(())
        }
        MailboxCommand::Show { data_dir, address, json } => {
            let address: EmailAddress = parse("address", &address)?;
            let data = DataDir::load(&data_dir.data_dir)?;
            let mailbox = data.open_store().await?.meta.mailbox(&address).await?;
            let mailbox = mailbox.ok_or_else(|| failed("address", format!("no mailbox {address}")))?;
            if json {
                println!("{}", to_json(&mailbox));
            } else {
                print_mailbox(&mailbox);
            }
            Ok(())
        }
    }
}

async fn find(data: &DataDir, address: &str) -> Result<Mailbox, CliError> {
    let address: EmailAddress = parse("address", address)?;
    let mailbox = data.open_store().await?.meta.mailbox(&address).await?;
    mailbox.ok_or_else(|| usage("address", format!("no mailbox {address}")))
}

/// A state change by the operator's administrator: audited, and the
/// holder's sessions end when the mailbox stops being usable.
async fn transition(
    data_dir: &crate::cli::DataDirArg,
    address: &str,
    from: MailboxState,
    to: MailboxState,
    reason: Option<&str>,
) -> Result<(), CliError> {
    let data = DataDir::load(&data_dir.data_dir)?;
    let mailbox = find(&data, address).await?;
    if mailbox.state != from || !from.can_become(to) {
        return Err(usage("address", format!("{address} is {}; it cannot become {to}", mailbox.state)));
    }
    let store = data.open_store().await?;
    // What the directory must learn is recorded with the change itself.
    let publication = PublicationKind::for_transition(from, to).map(NewPublication::queued);
    if !store.meta.change_state_published(mailbox.id, from, to, reason, publication).await? {
        return Err(failed("address", format!("{address} changed meanwhile; try again")));
    }
    if to != MailboxState::Active
        && let Some(holder) = &mailbox.national_id
    {
        store.meta.revoke_sessions_of(holder, mss_store::now_unix()).await?;
    }
    let entry = mss_store::NewAuditEntry::now("cli", &format!("mailbox.{to}"), address, "ok", reason.unwrap_or(""));
    store.audit.record(entry).await;
    store.audit.flush().await;
    println!("{address} is {to}");
    Ok(())
}

/// A naming error from core, on the command-line option it comes from.
fn naming_error(e: AddressError) -> CliError {
    let field = match &e {
        AddressError::EmptyName { field: "first name", .. } => "first",
        AddressError::EmptyName { field: "last name", .. } => "last",
        AddressError::EmptyName { field: "city", .. } => "city",
        AddressError::EmptyName { field: "service name", .. } => "service",
        AddressError::PostalCode { .. } => "postal-code",
        _ => "name",
    };
    let message = e.to_string();
    let message = message.split_once(": ").map_or(message.as_str(), |(_, rest)| rest).to_string();
    CliError::Usage { field, message }
}

fn required<'a>(field: &'static str, value: &'a Option<String>, kind: MailboxKind) -> Result<&'a str, CliError> {
    match value.as_deref() {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(usage(field, format!("required for --type {}", kind.code().to_lowercase()))),
    }
}

fn forbidden(field: &'static str, present: bool, kind: MailboxKind) -> Result<(), CliError> {
    if present {
        return Err(usage(field, format!("not used with --type {}", kind.code().to_lowercase())));
    }
    Ok(())
}

fn validate(args: &MailboxCreateArgs) -> Result<MailboxDraft, CliError> {
    let kind: MailboxKind = parse("type", &args.kind)?;
    let mut request = MailboxDraft {
        finess: args.finess.as_deref().map(|f| parse::<Finess>("finess", f)).transpose()?,
        liste_rouge: args.liste_rouge,
        ..MailboxDraft::new(kind)
    };
    if let Some(dn) = &args.certificate_dn {
        if kind != MailboxKind::Applicative {
            return Err(usage("certificate-dn", "only for --type app"));
        }
        request.certificate_dn = Some(parse::<DistinguishedName>("certificate-dn", dn)?.to_string());
    }
    request.base_local = match kind {
        MailboxKind::Personal => {
            for (field, present) in [
                ("name", args.name.is_some()),
                ("pharmacy", args.pharmacy),
                ("postal-code", args.postal_code.is_some()),
                ("city", args.city.is_some()),
                ("service", args.service.is_some()),
            ] {
                forbidden(field, present, kind)?;
            }
            request.national_id = Some(match (&args.rpps, &args.adeli) {
                (Some(rpps), None) => NationalId::Rpps(parse::<Rpps>("rpps", rpps)?),
                (None, Some(adeli)) => NationalId::Adeli(parse::<Adeli>("adeli", adeli)?),
                _ => return Err(usage("rpps", "--rpps or --adeli is required for --type per")),
            });
            let first = required("first", &args.first, kind)?.trim();
            let last = required("last", &args.last, kind)?.trim();
            request.first_name = Some(first.to_string());
            request.last_name = Some(last.to_string());
            request.display_name = format!("{first} {last}");
            personal_local_part(first, last).map_err(naming_error)?
        }
        MailboxKind::Organisational | MailboxKind::Applicative | MailboxKind::Cabinet => {
            for (field, present) in [
                ("rpps", args.rpps.is_some()),
                ("adeli", args.adeli.is_some()),
                ("first", args.first.is_some()),
                ("last", args.last.is_some()),
            ] {
                forbidden(field, present, kind)?;
            }
            let name = required("name", &args.name, kind)?.trim();
            request.display_name = name.to_string();
            if kind != MailboxKind::Organisational {
                forbidden("pharmacy", args.pharmacy, kind)?;
                forbidden("service", args.service.is_some(), kind)?;
                forbidden("postal-code", args.postal_code.is_some(), kind)?;
            }
            if kind != MailboxKind::Cabinet && request.finess.is_none() {
                return Err(usage("finess", format!("required for --type {}", kind.code().to_lowercase())));
            }
            match kind {
                MailboxKind::Organisational if args.pharmacy => {
                    forbidden("service", args.service.is_some(), kind)?;
                    let postal = required("postal-code", &args.postal_code, kind)?;
                    let city = required("city", &args.city, kind)?;
                    pharmacy_local_part(name, postal, city).map_err(naming_error)?
                }
                MailboxKind::Organisational => {
                    forbidden("postal-code", args.postal_code.is_some(), kind)?;
                    forbidden("city", args.city.is_some(), kind)?;
                    let service = required("service", &args.service, kind)?.trim();
                    request.service = Some(service.to_string());
                    service_local_part(service).map_err(naming_error)?
                }
                MailboxKind::Applicative => {
                    forbidden("city", args.city.is_some(), kind)?;
                    application_local_part(name).map_err(naming_error)?
                }
                _cabinet => {
                    let city = required("city", &args.city, kind)?;
                    cabinet_local_part(name, city).map_err(naming_error)?
                }
            }
        }
    };
    Ok(request)
}

async fn create(args: MailboxCreateArgs) -> Result<(), CliError> {
    let data = DataDir::load(&args.data_dir.data_dir)?;
    let request = validate(&args)?;
    let store = data.open_store().await?;
    let meta = store.meta.clone();
    let created = create_at_free_address(store.meta.as_ref(), &request.base_local, &data.domain, |address| {
        let (meta, new) = (meta.clone(), request.at(address, MailboxState::Active));
        async move { meta.create_published_mailbox(&new).await }
    })
    .await;
    match created {
        Ok(mailbox) => {
            println!("{}", mailbox.address);
            Ok(())
        }
        Err(StoreError::Invalid(why)) => Err(usage("address", why)),
        Err(e) => Err(e.into()),
    }
}

fn to_json(m: &Mailbox) -> serde_json::Value {
    serde_json::json!({
        "address": m.address.to_string(),
        "type": m.kind.code(),
        "state": m.state.as_str(),
        "national_id": m.national_id.as_ref().map(|n| n.to_string()),
        "finess": m.finess.as_ref().map(|f| f.as_str().to_string()),
        "first_name": m.first_name,
        "last_name": m.last_name,
        "display_name": m.display_name,
        "service": m.service,
        "liste_rouge": m.liste_rouge,
        "certificate_dn": m.certificate_dn,
        "created_at": m.created_at,
    })
}

fn print_mailbox(m: &Mailbox) {
    println!("address:      {}", m.address);
    println!("type:         {}", m.kind);
    println!("state:        {}", m.state);
    println!("name:         {}", m.display_name);
    if let Some(id) = &m.national_id {
        println!("national id:  {id}");
    }
    if let Some(finess) = &m.finess {
        println!("finess:       {}", finess.as_str());
    }
    if let Some(service) = &m.service {
        println!("service:      {service}");
    }
    println!("liste rouge:  {}", if m.liste_rouge { "yes" } else { "no" });
    if let Some(dn) = &m.certificate_dn {
        println!("certificate:  {dn}");
    }
    println!("created at:   {} (unix)", m.created_at);
}
