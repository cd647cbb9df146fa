//! The demo install: run at every start, creates only what is missing.

use model::{Surface, TenantRole};
use rand::distributions::{Alphanumeric, DistString};

use crate::accounts;
use crate::environments;
use crate::skills;
use crate::tenancy::{self, NewTenant};
use crate::{Actor, AppError, AppResult, Ctx};

pub const CONSOLE_HOST: &str = "admin.localhost";
pub const FREE_HOST: &str = "free.localhost";
pub const EXPERIENCE_HOST: &str = "localhost";
pub const SUPER_ADMIN: &str = "superadmin";

/// An account the seed created, with the password to give its owner (shown once).
#[derive(Clone, Debug)]
pub struct SeededAccount {
    pub host: &'static str,
    pub username: &'static str,
    pub password: String,
}

/// The demo tenants: name, host, admin, member, folder of demo skills (`domain/demo-skills/…`).
const DEMO_TENANTS: &[(&str, &str, &str, &str, &str)] = &[
    ("Acme", "acme.localhost", "acme-admin", "acme-user", "acme"),
    (
        "Globex",
        "globex.localhost",
        "globex-admin",
        "globex-user",
        "globex",
    ),
];

/// Seeds the demo. `password`: the one password for every seeded account, or `None` to generate
/// one per account. Returns the accounts created by this call (none on later starts).
pub async fn seed_demo(ctx: &Ctx, password: Option<&str>) -> AppResult<Vec<SeededAccount>> {
    let actor = Actor::system();
    // A given password must suit every account before anything is created.
    if let Some(p) = password {
        let usernames = DEMO_TENANTS
            .iter()
            .flat_map(|&(_, _, admin, member, _)| [admin, member]);
        for username in std::iter::once(SUPER_ADMIN).chain(usernames) {
            model::validate_password(p, username).map_err(|e| {
                AppError::Invalid(format!(
                    "EXECGOV_SEED_PASSWORD is not usable for {username}: {e}"
                ))
            })?;
        }
    }
    let password_for = || match password {
        Some(p) => p.to_string(),
        None => Alphanumeric.sample_string(&mut rand::thread_rng(), 12) + "-7x",
    };
    let mut created = Vec::new();

    for (host, surface) in [
        (CONSOLE_HOST, Surface::PublicConsole),
        (EXPERIENCE_HOST, Surface::Experience),
    ] {
        if tenancy::resolve_host(ctx, host).await?.is_none() {
            tenancy::bind_platform_host(ctx, &actor, host, surface).await?;
        }
    }
    if tenancy::resolve_host(ctx, FREE_HOST).await?.is_none() {
        tenancy::provision_free_edition(ctx, &actor, FREE_HOST).await?;
    }
    if !platform_user_exists(ctx, SUPER_ADMIN).await? {
        let pw = password_for();
        accounts::create_platform_user(ctx, &actor, SUPER_ADMIN, pw.clone(), true).await?;
        created.push(SeededAccount {
            host: CONSOLE_HOST,
            username: SUPER_ADMIN,
            password: pw,
        });
    }

    for &(name, host, admin, member, skills_folder) in DEMO_TENANTS {
        let tenant = match tenancy::resolve_host(ctx, host)
            .await?
            .and_then(|b| b.tenant)
        {
            Some(t) => t,
            None => {
                let pw = password_for();
                let t = tenancy::provision_tenant(
                    ctx,
                    &actor,
                    NewTenant {
                        name: name.into(),
                        host: host.into(),
                        admin_username: admin.into(),
                        admin_password: pw.clone(),
                    },
                )
                .await?;
                created.push(SeededAccount {
                    host,
                    username: admin,
                    password: pw,
                });
                t
            }
        };
        let users = accounts::list_users(ctx, &tenant).await?;
        if !users.iter().any(|u| u.username == member) {
            let pw = password_for();
            accounts::create_user(ctx, &tenant, &actor, member, pw.clone(), TenantRole::Member)
                .await?;
            created.push(SeededAccount {
                host,
                username: member,
                password: pw,
            });
        }
        // Demo skills members may run; a changed demo script becomes the skill's next version
        // unless the tenant has taken the skill over with its own submissions.
        for folder in skills::manifest::demo_skill_folders(skills_folder) {
            let (slug, hash) = (&folder.manifest.slug, &folder.content_hash);
            if skills::platform_folder_is_new(ctx, &tenant, slug, hash).await? {
                // A demo that declares packages runs with its committed lock; its environment
                // is built before its first run.
                let lock = environments::demo_lock(&folder);
                let provenance = skills::Provenance {
                    lock: lock.as_ref(),
                    ..Default::default()
                };
                let roles = [TenantRole::Member];
                skills::register_with(ctx, &tenant, &actor, &folder, &roles, provenance).await?;
            }
        }
    }

    // Acme's admin also helps Globex: the minimal cross-tenant entry.
    let acme = tenancy::resolve_host(ctx, DEMO_TENANTS[0].1)
        .await?
        .and_then(|b| b.tenant);
    let globex = tenancy::resolve_host(ctx, DEMO_TENANTS[1].1)
        .await?
        .and_then(|b| b.tenant);
    if let (Some(acme), Some(globex)) = (acme, globex) {
        tenancy::whitelist_admin(ctx, &actor, acme.id, DEMO_TENANTS[0].2, globex.id).await?;
    }
    Ok(created)
}

async fn platform_user_exists(ctx: &Ctx, username: &str) -> AppResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM public.platform_users WHERE lower(username) = lower($1))",
    )
    .bind(username)
    .fetch_one(&ctx.pool)
    .await?)
}
