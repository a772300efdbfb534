//! Certificates of a mesh made on the spot, the way global and a zone would issue them, for
//! proxies that run without a zone (`weft-dp --config-file … --certificates-dir …`).

use std::path::Path;
use std::time::Duration;

use weft_identity::ca;

/// Writes, for each of `services`, a directory `dir/<service>/` holding `bundle.pem` (the
/// mesh's root), `<service>.pem` (leaf and zone intermediate) and `<service>.key`: a root for
/// `mesh`, one zone intermediate, one leaf per service with `spiffe://<mesh>/<service>`.
pub fn write_dirs(dir: &Path, mesh: &str, services: &[&str]) -> anyhow::Result<()> {
    let day = Duration::from_secs(86_400);
    let (root_pem, root_key) = ca::new_root(mesh, 30 * day)?;
    let root = ca::CertificateAuthority::load(&root_pem, &root_key)?;
    let (zone_key, zone_csr) = ca::new_key_and_csr(&format!("{mesh} zone"))?;
    let intermediate = root.sign_intermediate(&zone_csr, mesh, "zone", day)?;
    let zone = ca::CertificateAuthority::load(&intermediate, &zone_key)?;
    for service in services {
        let (key, csr) = ca::new_key_and_csr(service)?;
        let leaf = zone.sign_leaf(&csr, &ca::spiffe_id(mesh, service), day)?;
        let out = dir.join(service);
        std::fs::create_dir_all(&out)?;
        std::fs::write(out.join("bundle.pem"), &root_pem)?;
        std::fs::write(
            out.join(format!("{service}.pem")),
            format!("{leaf}{intermediate}"),
        )?;
        std::fs::write(out.join(format!("{service}.key")), &key)?;
    }
    Ok(())
}
