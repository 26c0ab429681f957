//! The audit trail as a pharmacist reads it: each action's code said in a
//! French sentence, its result as « réussi » or « refusé » with the reason,
//! the peer's address without its port. The codes stay the trail's (the
//! filter and `mss audit` use them).

/// An action code (`imap.fetch`, `role.set`…) in French.
pub fn action(code: &str) -> String {
    let known = match code {
        "imap.login" => "Connexion IMAP",
        "imap.revoked" => "Session IMAP close (accès retiré)",
        "imap.select" | "imap.examine" => "Ouverture d'un dossier (IMAP)",
        "imap.fetch" => "Lecture de messages (IMAP)",
        "imap.store" => "Marquage de messages (IMAP)",
        "imap.copy" => "Copie de messages (IMAP)",
        "imap.move" => "Déplacement de messages (IMAP)",
        "imap.expunge" => "Suppression définitive (IMAP)",
        "imap.append" => "Dépôt d'un message (IMAP)",
        "imap.search" | "imap.sort" | "imap.thread" => "Recherche (IMAP)",
        "imap.create" => "Création d'un dossier (IMAP)",
        "imap.delete" => "Suppression d'un dossier (IMAP)",
        "imap.rename" => "Renommage d'un dossier (IMAP)",
        "smtp.login" => "Connexion pour l'envoi",
        "smtp.submit" => "Envoi d'un message",
        "smtp.receive" => "Réception d'un message",
        "smtp.revoked" => "Envoi interrompu (accès retiré)",
        "webmail.read" => "Lecture d'un message (portail)",
        "webmail.download" => "Téléchargement d'une pièce jointe",
        "webmail.send" => "Envoi depuis le portail",
        "webmail.receipt" => "Accusé de lecture envoyé",
        "webmail.draft.save" => "Brouillon enregistré",
        "webmail.draft.replace" => "Brouillon remplacé",
        "webmail.patient.answer" => "Réponse à un patient",
        "webmail.patient.open" => "Conversation patient consultée",
        "webmail.quick_answers" => "Réponses rapides modifiées",
        "webmail.dispensation.link" => "Message lié à une délivrance",
        "role.set" | "role.grant" => "Rôle attribué",
        "role.remove" => "Rôle retiré",
        "mailbox.request" => "Demande de création de la boîte",
        "mailbox.read" => "Consultation de la boîte",
        "mailbox.liste_rouge" => "Liste rouge modifiée",
        "mailbox.purge" => "Courrier effacé (boîte supprimée)",
        "session.login" => "Connexion au portail",
        "session.logout" => "Déconnexion du portail",
        "account.link" => "Compte de l'éditeur lié",
        "account.unlink" => "Compte de l'éditeur délié",
        "app_password.create" => "Mot de passe d'application créé",
        "app_password.revoke" => "Mot de passe d'application révoqué",
        "api.document.send" => "Document de santé envoyé (logiciel)",
        "api.dispensations" => "Délivrances déclarées (logiciel)",
        "api.dispensations.link" => "Délivrance liée à un message (logiciel)",
        "api.authenticate" => "Authentification refusée (logiciel)",
        "portal.post" => "Formulaire refusé (jeton de sécurité absent)",
        "whitelist.refresh" => "Liste blanche mise à jour",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    match code.split_once('.') {
        Some(("imap", command)) => format!("Commande IMAP {}", command.to_uppercase()),
        Some(("webmail", _)) => "Action sur un message (portail)".to_string(),
        Some(("mailbox", state)) => format!("État de la boîte : {state}"),
        _ => code.to_string(),
    }
}

/// A result (`ok`, `refused: why`, an IMAP reply) in French.
pub fn result(text: &str) -> String {
    let text = text.trim();
    let upper = text.to_ascii_uppercase();
    if text == "ok" || upper.starts_with("OK") {
        return "réussi".into();
    }
    if let Some(why) = text.strip_prefix("refused: ").or_else(|| text.strip_prefix("refused:")) {
        return format!("refusé ({})", why.trim());
    }
    if upper.starts_with("NO") || upper.starts_with("BAD") {
        return "refusé".into();
    }
    text.to_string()
}

/// A detail, the peer's port left out (`peer=192.0.2.1:53124` reads
/// « depuis 192.0.2.1 »).
pub fn detail(text: &str) -> String {
    text.split_whitespace()
        .map(|word| match word.strip_prefix("peer=") {
            Some(peer) => {
                let host =
                    peer.parse::<std::net::SocketAddr>().map_or_else(|_| peer.to_string(), |a| a.ip().to_string());
                format!("depuis {host}")
            }
            None => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_results_and_peers_read_in_french() {
        assert_eq!(action("role.set"), "Rôle attribué");
        assert_eq!(action("imap.fetch"), "Lecture de messages (IMAP)");
        assert_eq!(action("imap.getquotaroot"), "Commande IMAP GETQUOTAROOT");
        assert_eq!(action("mailbox.suspended"), "État de la boîte : suspended");
        assert_eq!(action("something.new"), "something.new");
        assert_eq!(result("OK FETCH completed"), "réussi");
        assert_eq!(result("ok"), "réussi");
        assert_eq!(result("refused: csrf"), "refusé (csrf)");
        assert_eq!(result("NO [AUTHENTICATIONFAILED] x"), "refusé");
        assert_eq!(detail("peer=127.0.0.1:50124"), "depuis 127.0.0.1");
        assert_eq!(detail("peer=[::1]:993 INBOX/3"), "depuis ::1 INBOX/3");
    }
}
