pub(crate) mod tls12;
