//! Skills and their input schemas, as the browser and the server both see them.
