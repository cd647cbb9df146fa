//! Who is calling, through which host: built once per request from the Host header and the
//! session cookie, then asked for the right it needs ("a super-admin", "an admin of this tenant").

use model::Surface;

use crate::accounts::{self, Realm, SignedIn};
use crate::tenancy::{self, Binding, Tenant};
use crate::tokens;
use crate::{Actor, AppError, AppResult, Ctx, RequestMeta};

#[derive(Clone, Debug)]
pub struct Caller {
    pub binding: Binding,
    pub signed_in: Option<SignedIn>,
    /// The session cookie's value as sent, so that logout can end exactly that session.
    pub session_token: Option<String>,
    pub meta: RequestMeta,
}

/// Resolves the Host and, when a session token or a bearer token (REST API) came with the
/// request, the user it belongs to in that host's realm only. `None`: the Host is not bound.
pub async fn identify(
    ctx: &Ctx,
    raw_host: &str,
    session_token: Option<&str>,
    bearer_token: Option<&str>,
    meta: RequestMeta,
) -> AppResult<Option<Caller>> {
    let Some(binding) = tenancy::resolve_host(ctx, raw_host).await? else {
        return Ok(None);
    };
    let mut caller = Caller {
        binding,
        signed_in: None,
        session_token: session_token.map(str::to_string),
        meta,
    };
    if caller.binding.tenant.as_ref().is_some_and(|t| !t.active) {
        return Ok(Some(caller));
    }
    caller.signed_in = match (bearer_token, session_token, caller.realm()) {
        // Tokens exist in tenant realms only; on the console a bearer token is anonymous.
        (Some(secret), _, Some(Realm::Tenant(tenant))) => {
            tokens::authenticate(ctx, tenant, secret).await?
        }
        (Some(_), _, _) => None,
        (None, Some(token), Some(realm)) => accounts::session_user(ctx, realm, token).await?,
        (None, _, _) => None,
    };
    Ok(Some(caller))
}

impl Caller {
    pub fn surface(&self) -> Surface {
        self.binding.surface
    }

    /// Where this host's accounts live; the experience page has none.
    pub fn realm(&self) -> Option<Realm<'_>> {
        match (self.binding.surface, &self.binding.tenant) {
            (Surface::PublicConsole, _) => Some(Realm::Platform),
            (Surface::TenantFront | Surface::FreeConsole, Some(t)) => Some(Realm::Tenant(t)),
            _ => None,
        }
    }

    pub fn require_realm(&self) -> AppResult<Realm<'_>> {
        self.realm().ok_or_else(|| {
            AppError::NotFound("There is nothing to sign in to on this page.".into())
        })
    }

    /// The audit trail's name for this caller.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self
                .signed_in
                .as_ref()
                .map(|s| s.principal.username().to_string())
                .unwrap_or_else(|| "anonymous".into()),
            meta: self.meta.clone(),
        }
    }

    pub fn tenant(&self) -> AppResult<&Tenant> {
        self.binding
            .tenant
            .as_ref()
            .ok_or_else(|| AppError::NotFound("This address has no tenant.".into()))
    }

    pub fn signed_in(&self) -> AppResult<&SignedIn> {
        self.signed_in
            .as_ref()
            .ok_or_else(|| AppError::Unauthenticated("Please sign in first.".into()))
    }

    /// A signed-in user of the tenant this host is bound to.
    pub fn tenant_user(&self) -> AppResult<(&Tenant, &SignedIn)> {
        Ok((self.tenant()?, self.signed_in()?))
    }

    /// A super-admin of the public console: the explicit marker, nothing else.
    pub fn super_admin(&self) -> AppResult<&SignedIn> {
        let user = self.signed_in()?;
        if self.binding.surface == Surface::PublicConsole && user.principal.is_super_admin() {
            Ok(user)
        } else {
            Err(AppError::Forbidden("Only super-admins may do this.".into()))
        }
    }

    /// An admin of the tenant this host is bound to.
    pub fn tenant_admin(&self) -> AppResult<(&Tenant, &SignedIn)> {
        let user = self.signed_in()?;
        let tenant = self.tenant()?;
        if self.binding.surface == Surface::TenantFront && user.principal.is_tenant_admin() {
            Ok((tenant, user))
        } else {
            Err(AppError::Forbidden(
                "Only this tenant's admins may do this.".into(),
            ))
        }
    }

    /// The realm whose logs this caller governs: the platform for a super-admin on the console,
    /// their tenant for a tenant admin on its front.
    pub fn admin_realm(&self) -> AppResult<Realm<'_>> {
        match self.binding.surface {
            Surface::PublicConsole => self.super_admin().map(|_| Realm::Platform),
            _ => self.tenant_admin().map(|(t, _)| Realm::Tenant(t)),
        }
    }
}
