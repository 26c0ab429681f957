//! `mss mailbox create|list|show|grant|suspend|resume|delete|liste-rouge|validate`.
//!
//! The use cases are `mss_ops::mailboxes`; this module reads the options
//! and says the outcome. A mailbox created here by the operator's
//! administrator is active at once; options the mailbox's type does not
//! use are refused, so that a mistyped command is not half obeyed.

use mss_core::{Adeli, EmailAddress, MailboxKind, NationalId, Role, Rpps};
use mss_ops::OpsError;
use mss_ops::mailboxes::{self, Change, CreationForm, DraftError, Field, MailboxView};
use mss_store::Mailbox;

use crate::cli::{DataDirArg, MailboxCommand, MailboxCreateArgs};
use crate::config::DataDir;
use crate::error::{CliError, failed, parse, usage};

/// The actor of the audit entries written here.
const ACTOR: &str = "cli";

pub async fn run(command: MailboxCommand) -> Result<(), CliError> {
    match command {
        MailboxCommand::Create(args) => create(*args).await,
        MailboxCommand::List { data_dir, json } => {
            let data = DataDir::load(&data_dir.data_dir)?;
            let mailboxes = data.open_store().await?.meta.mailboxes().await?;
            if json {
                let list: Vec<_> = mailboxes.iter().map(|m| MailboxView::new(m, None)).collect();
                println!("{}", serde_json::to_string(&list).map_err(|e| failed("json", e))?);
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
            let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
            mailboxes::grant(&store, ACTOR, &address, &national_id, role).await.map_err(failure)?;
            println!("{national_id} is {role} of {address}");
            Ok(())
        }
        MailboxCommand::Suspend { data_dir, address, reason } => {
            transition(&data_dir, &address, Change::Suspend, Some(&reason)).await
        }
        MailboxCommand::Resume { data_dir, address } => transition(&data_dir, &address, Change::Resume, None).await,
        MailboxCommand::Delete { data_dir, address, reason } => {
            transition(&data_dir, &address, Change::Delete, Some(&reason)).await
        }
        MailboxCommand::ListeRouge { data_dir, address, value } => {
            let on = match value.as_str() {
                "on" => true,
                "off" => false,
                _ => return Err(usage("value", format!("{value:?}: expected on or off"))),
            };
            let address: EmailAddress = parse("address", &address)?;
            let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
            mailboxes::set_liste_rouge(&store, ACTOR, &address, on).await.map_err(refusal)?;
            println!("{address}: liste rouge {value}");
            Ok(())
        }
        MailboxCommand::Validate { data_dir, address } => {
            let address: EmailAddress = parse("address", &address)?;
            let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
            mailboxes::validate_now(&store, &address).await.map_err(refusal)?;
            println!("{address}: the ANS is asked now (by the running server)");
            Ok(())
        }
        MailboxCommand::Show { data_dir, address, json } => {
            let address: EmailAddress = parse("address", &address)?;
            let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
            let mailbox = mailboxes::find(&store, &address).await.map_err(failure)?;
            if json {
                let view = MailboxView::new(&mailbox, None);
                println!("{}", serde_json::to_string(&view).map_err(|e| failed("json", e))?);
            } else {
                print_mailbox(&mailbox);
            }
            Ok(())
        }
    }
}

/// A state change by the operator's administrator.
async fn transition(
    data_dir: &DataDirArg,
    address: &str,
    change: Change,
    reason: Option<&str>,
) -> Result<(), CliError> {
    let address: EmailAddress = parse("address", address)?;
    let store = DataDir::load(&data_dir.data_dir)?.open_store().await?;
    let to = mailboxes::transition(&store, ACTOR, &address, change, reason).await.map_err(refusal)?;
    println!("{address} is {to}");
    Ok(())
}

/// An error of a command on one mailbox named by the administrator: a
/// missing mailbox or a wrong state is a usage error.
fn refusal(e: OpsError) -> CliError {
    match e {
        OpsError::NoMailbox(_) | OpsError::State { .. } | OpsError::NotPending { .. } => usage("address", e),
        OpsError::Raced(_) => failed("address", e),
        e => failure(e),
    }
}

/// An error while doing the work (exit code 1), or on the option at fault.
fn failure(e: OpsError) -> CliError {
    match e {
        OpsError::Draft(e) => draft_error(e),
        OpsError::CertificateTaken(_) => usage("certificate-dn", e),
        OpsError::NoMailbox(_) => failed("address", e),
        OpsError::Store(e) => e.into(),
        e => CliError::Failed(e.to_string()),
    }
}

/// The command-line option of a creation field.
fn option(field: Field) -> &'static str {
    match field {
        Field::NationalId => "rpps",
        Field::FirstName => "first",
        Field::LastName => "last",
        Field::Finess => "finess",
        Field::Name => "name",
        Field::Pharmacy => "pharmacy",
        Field::PostalCode => "postal-code",
        Field::City => "city",
        Field::Service => "service",
        Field::CertificateDn => "certificate-dn",
    }
}

fn draft_error(e: DraftError) -> CliError {
    match e {
        DraftError::Missing { field: Field::NationalId, .. } => {
            usage("rpps", "--rpps or --adeli is required for --type per")
        }
        DraftError::Missing { field, kind } => {
            usage(option(field), format!("required for --type {}", kind.code().to_lowercase()))
        }
        DraftError::Malformed { field, message } => usage(option(field), message),
        DraftError::Naming { field, error } => {
            let message = error.to_string();
            let message = message.split_once(": ").map_or(message.as_str(), |(_, rest)| rest).to_string();
            CliError::Usage { field: option(field), message }
        }
    }
}

/// The creation request of the options: those the type does not use are
/// refused here; the rest is checked by `mss_ops`.
fn form(args: &MailboxCreateArgs) -> Result<CreationForm, CliError> {
    let kind: MailboxKind = parse("type", &args.kind)?;
    let given = [
        (Field::NationalId, "rpps", args.rpps.is_some()),
        (Field::NationalId, "adeli", args.adeli.is_some()),
        (Field::FirstName, "first", args.first.is_some()),
        (Field::LastName, "last", args.last.is_some()),
        (Field::Name, "name", args.name.is_some()),
        (Field::Pharmacy, "pharmacy", args.pharmacy),
        (Field::PostalCode, "postal-code", args.postal_code.is_some()),
        (Field::City, "city", args.city.is_some()),
        (Field::Service, "service", args.service.is_some()),
        (Field::CertificateDn, "certificate-dn", args.certificate_dn.is_some()),
    ];
    for (field, option, present) in given {
        if present && !field.used_by(kind, args.pharmacy) {
            return Err(usage(option, format!("not used with --type {}", kind.code().to_lowercase())));
        }
    }
    let national_id = match (&args.rpps, &args.adeli) {
        (Some(rpps), None) => Some(NationalId::Rpps(parse::<Rpps>("rpps", rpps)?)),
        (None, Some(adeli)) => Some(NationalId::Adeli(parse::<Adeli>("adeli", adeli)?)),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(usage("rpps", "--rpps or --adeli, not both")),
    };
    Ok(CreationForm {
        national_id,
        first_name: args.first.clone(),
        last_name: args.last.clone(),
        finess: args.finess.clone(),
        name: args.name.clone(),
        pharmacy: args.pharmacy,
        postal_code: args.postal_code.clone(),
        city: args.city.clone(),
        service: args.service.clone(),
        certificate_dn: args.certificate_dn.clone(),
        liste_rouge: args.liste_rouge,
        ..CreationForm::new(kind)
    })
}

async fn create(args: MailboxCreateArgs) -> Result<(), CliError> {
    let data = DataDir::load(&args.data_dir.data_dir)?;
    let draft = mailboxes::validate(&form(&args)?).map_err(draft_error)?;
    let store = data.open_store().await?;
    let mailbox = match mailboxes::create(&store, &data.domain, &draft).await {
        Ok(mailbox) => mailbox,
        Err(OpsError::Invalid(why)) => return Err(usage("address", why)),
        Err(e) => return Err(failure(e)),
    };
    println!("{}", mailbox.address);
    Ok(())
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
